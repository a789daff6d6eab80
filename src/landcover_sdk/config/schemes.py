"""Class schemes: the classes a model predicts and how label-file codes map onto them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigError, LabelValueError

RGB = tuple[int, int, int]


def _rgb8(r: float, g: float, b: float) -> RGB:
    # The tutorial gives colours as floats in 0..1; its published renders truncate them to
    # 8 bits (0.5 -> 127, 0.375 -> 95), so truncation, not rounding, matches them pixel for pixel.
    return (int(r * 255), int(g * 255), int(b * 255))


class ClassDef(BaseModel):
    """One output class: its integer id, its name and its display colour (8-bit RGB)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=0, le=254)
    name: str = Field(min_length=1)
    color: RGB

    @model_validator(mode="after")
    def _check_color(self) -> ClassDef:
        if any(not 0 <= c <= 255 for c in self.color):
            raise ValueError(f"colour of class {self.id} ({self.name}) must be three values in 0..255")
        return self


class ClassScheme(BaseModel):
    """The classes of a land-cover product and the mapping from label-file codes to them.

    A code ``v`` found in a label file maps to a class id by, in order: ``grouping[v]`` when
    a grouping is given and holds ``v``; ``v`` itself when no grouping is given and ``v`` is a
    class id; the class ``clip_above`` when ``v > clip_above`` (the tutorial's rule "values above
    4 become 4"). Any other code is invalid and raises :class:`~landcover_sdk.LabelValueError`.

    ``nodata_class`` is the class that marks unknown pixels: it is excluded from the loss and
    from the metrics, and predictions write it where the input imagery has no data.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    classes: tuple[ClassDef, ...] = Field(min_length=2)
    nodata_class: int | None = 0
    source_codes: dict[int, str] | None = None
    grouping: dict[int, int] | None = None
    clip_above: int | None = None

    @model_validator(mode="after")
    def _check(self) -> ClassScheme:
        ids = [c.id for c in self.classes]
        if ids != list(range(len(ids))):
            raise ValueError(f"class ids must be 0..{len(ids) - 1} in order, got {ids}")
        n = len(ids)
        if self.nodata_class is not None and not 0 <= self.nodata_class < n:
            raise ValueError(f"nodata_class {self.nodata_class} is not a class id (0..{n - 1})")
        if self.clip_above is not None and not 0 <= self.clip_above < n:
            raise ValueError(f"clip_above {self.clip_above} is not a class id (0..{n - 1})")
        for code, target in (self.grouping or {}).items():
            if code < 0:
                raise ValueError(f"grouping: source code {code} is negative")
            if not 0 <= target < n:
                raise ValueError(f"grouping: code {code} maps to {target}, which is not a class id (0..{n - 1})")
        if self.source_codes is not None and self.grouping is not None:
            missing = sorted(set(self.source_codes) - set(self.grouping))
            if missing:
                names = ", ".join(f"{c} ({self.source_codes[c]})" for c in missing)
                raise ValueError(f"grouping leaves source codes unmapped: {names}")
        return self

    # ------------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        """Class names in id order."""
        return [c.name for c in self.classes]

    @property
    def colors(self) -> npt.NDArray[np.uint8]:
        """``(num_classes, 3)`` uint8 array of display colours in id order."""
        return np.array([c.color for c in self.classes], dtype=np.uint8)

    @property
    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """GDAL colour table (``id -> (r, g, b, 255)``) for writing class rasters."""
        return {c.id: (*c.color, 255) for c in self.classes}

    @property
    def valid_classes(self) -> list[int]:
        """Class ids that count in losses and metrics (all but ``nodata_class``)."""
        return [c.id for c in self.classes if c.id != self.nodata_class]

    def _lut(self, size: int) -> npt.NDArray[np.int16]:
        """Lookup table over codes ``0..size-1``: class id, or -1 where the code is invalid."""
        cached = self._luts.get(size)
        if cached is not None:
            return cached
        lut = np.full(size, -1, dtype=np.int16)
        if self.grouping is not None:
            for code, target in self.grouping.items():
                if code < size:
                    lut[code] = target
        else:
            n = min(size, self.num_classes)
            lut[:n] = np.arange(n)
        if self.clip_above is not None:
            above = np.arange(size) > self.clip_above
            lut[above & (lut < 0)] = self.clip_above
        self._luts[size] = lut
        return lut

    @cached_property
    def _luts(self) -> dict[int, npt.NDArray[np.int16]]:
        return {}

    # ------------------------------------------------------------------ mapping
    def map_code(self, code: int) -> int | None:
        """The class id of one label-file code, or ``None`` if the code is invalid."""
        if code < 0:
            return None
        if self.grouping is not None and code in self.grouping:
            return self.grouping[code]
        if self.grouping is None and code < self.num_classes:
            return code
        if self.clip_above is not None and code > self.clip_above:
            return self.clip_above
        return None

    def invalid_codes(self, codes: Iterable[int]) -> list[int]:
        """The codes among ``codes`` that this scheme cannot map, sorted."""
        return sorted({int(c) for c in codes if self.map_code(int(c)) is None})

    def check_codes(self, codes: Iterable[int], *, source: str) -> None:
        """Raise :class:`LabelValueError` naming ``source`` if any code cannot be mapped."""
        bad = self.invalid_codes(codes)
        if bad:
            shown = ", ".join(str(b) for b in bad[:10])
            raise LabelValueError(
                source,
                f"label values outside class scheme {self.name!r}: {shown}"
                f" (valid: {self.describe_codes()})",
            )

    def describe_codes(self) -> str:
        """Human-readable list of the codes this scheme accepts."""
        codes = sorted(self.grouping) if self.grouping is not None else list(range(self.num_classes))
        text = ", ".join(str(c) for c in codes)
        if self.clip_above is not None:
            text += f", anything above {self.clip_above}"
        return text

    def remap(self, labels: npt.NDArray[Any], *, source: str = "<array>") -> npt.NDArray[np.uint8]:
        """Map an array of label-file codes to class ids (uint8).

        Raises :class:`LabelValueError` naming ``source`` and the offending values when a code
        cannot be mapped. Vectorised through a lookup table; cost is one pass over the array.
        """
        arr = np.asarray(labels)
        if not np.issubdtype(arr.dtype, np.integer):
            raise LabelValueError(source, f"labels must be integers, got dtype {arr.dtype}")
        if arr.dtype.itemsize <= 2:
            # Small integer types index a full-range table directly: one gather, no branches.
            info = np.iinfo(arr.dtype)
            lut = self._lut(int(info.max) + 1)
            if info.min < 0:
                table = np.concatenate([np.full(-int(info.min), -1, dtype=np.int16), lut])
                out = table[arr.astype(np.int32) - int(info.min)]
            else:
                out = lut[arr]
        else:
            wide = arr.astype(np.int64, copy=False)
            codes = np.unique(wide)
            mapped = np.array([-1 if (m := self.map_code(int(c))) is None else m for c in codes], dtype=np.int16)
            out = mapped[np.searchsorted(codes, wide)]
        if out.size and int(out.min()) < 0:
            self.check_codes(np.unique(arr[out < 0]), source=source)
        return out.astype(np.uint8)

    # ------------------------------------------------------------------ built-ins
    @classmethod
    def tutorial(cls) -> ClassScheme:
        """The tutorial's 5 classes; label values above 4 become 4 (its literal rule)."""
        return cls(name="tutorial", classes=_TUTORIAL_CLASSES, nodata_class=0, clip_above=4)

    @classmethod
    def chesapeake(cls) -> ClassScheme:
        """The raw 7-class Chesapeake land cover (codes 1-6; 15 = no data becomes class 0)."""
        classes = (
            ClassDef(id=0, name="no data", color=(0, 0, 0)),
            ClassDef(id=1, name="water", color=(0, 0, 255)),
            ClassDef(id=2, name="tree canopy", color=(0, 127, 0)),
            ClassDef(id=3, name="low vegetation", color=(127, 255, 127)),
            ClassDef(id=4, name="barren", color=(163, 129, 73)),
            ClassDef(id=5, name="impervious other", color=(127, 95, 95)),
            ClassDef(id=6, name="impervious road", color=(64, 64, 64)),
        )
        grouping = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 15: 0}
        return cls(name="chesapeake", classes=classes, source_codes=dict(CHESAPEAKE_CODES),
                   grouping=grouping, nodata_class=0)

    @classmethod
    def chesapeake_grouped(cls) -> ClassScheme:
        """Raw Chesapeake codes grouped into the tutorial's 5 classes, with 15 (no data) -> 0."""
        grouping = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 4, 15: 0}
        return cls(name="chesapeake-grouped", classes=_TUTORIAL_CLASSES, source_codes=dict(CHESAPEAKE_CODES),
                   grouping=grouping, nodata_class=0)

    def same_classes(self, other: ClassScheme) -> bool:
        """Whether two schemes predict the same classes (ids and names), whatever their source codes."""
        return [(c.id, c.name) for c in self.classes] == [(c.id, c.name) for c in other.classes]


CHESAPEAKE_CODES: Mapping[int, str] = {
    0: "unlabelled",
    1: "water",
    2: "tree canopy",
    3: "low vegetation",
    4: "barren",
    5: "impervious other",
    6: "impervious road",
    15: "no data",
}

_TUTORIAL_CLASSES = (
    ClassDef(id=0, name="no data", color=_rgb8(0, 0, 0)),
    ClassDef(id=1, name="water", color=_rgb8(0, 0, 1)),
    ClassDef(id=2, name="trees and shrubs", color=_rgb8(0, 0.5, 0)),
    ClassDef(id=3, name="herbaceous vegetation", color=_rgb8(0.5, 1, 0.5)),
    ClassDef(id=4, name="barren and impervious", color=_rgb8(0.5, 0.375, 0.375)),
)

BUILTIN_SCHEMES = {
    "tutorial": ClassScheme.tutorial,
    "chesapeake": ClassScheme.chesapeake,
    "chesapeake-grouped": ClassScheme.chesapeake_grouped,
}


def get_scheme(spec: str | ClassScheme | Mapping[str, Any]) -> ClassScheme:
    """Resolve a scheme given by built-in name, as a mapping (from a config file) or as a scheme."""
    if isinstance(spec, ClassScheme):
        return spec
    if isinstance(spec, str):
        try:
            return BUILTIN_SCHEMES[spec]()
        except KeyError:
            raise ConfigError(
                f"class_scheme: unknown built-in scheme {spec!r} (choose from {', '.join(BUILTIN_SCHEMES)})"
            ) from None
    from pydantic import ValidationError

    try:
        return ClassScheme.model_validate(dict(spec))
    except ValidationError as exc:
        from .base import format_validation_error

        raise ConfigError(format_validation_error(exc, prefix="class_scheme")) from None


def infer_scheme(codes: Iterable[int], *, source: str) -> ClassScheme:
    """Pick the built-in grouping for a label file from the codes it holds.

    Codes within 0..4 are the tutorial's classes; codes from the Chesapeake set (any of 5, 6 or
    15 present, nothing else) are grouped with :meth:`ClassScheme.chesapeake_grouped`, so that
    code 15 (no data) becomes class 0 rather than 4. Anything else is refused, naming the file.
    """
    present = {int(c) for c in codes}
    if present <= {0, 1, 2, 3, 4}:
        return ClassScheme.tutorial()
    if present <= set(CHESAPEAKE_CODES):
        return ClassScheme.chesapeake_grouped()
    bad = sorted(present - set(CHESAPEAKE_CODES))
    raise LabelValueError(
        source,
        f"label values {', '.join(map(str, bad[:10]))} fit neither the tutorial classes (0-4) nor the "
        "Chesapeake codes (1-6, 15); name a class scheme explicitly",
    )
