"""``TileDataset``: validated pairs of georeferenced imagery and label GeoTIFFs, read by window."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from rasterio.io import DatasetReader

from .._util import is_remote, local_path
from ..config.models import DataConfig
from ..config.schemes import ClassScheme, get_scheme, infer_scheme
from ..errors import EmptyDatasetError, InvalidRasterError, LabelValueError, MissingPartnerError
from ..storage import discover_remote_pairs
from .raster import (
    SCHEME_TAG,
    RasterInfo,
    check_aligned,
    code_histogram,
    open_raster,
    read_info,
    read_window,
    validate_image,
    validate_label,
)
from .windows import PixelWindow, require_inside

log = logging.getLogger(__name__)

IMAGE_SUFFIX = "_NAIP.tif"
LABEL_SUFFIX = "_LandCover.tif"


@dataclass(frozen=True)
class TilePair:
    """An imagery file and its label file, named ``<name>_NAIP.tif`` / ``<name>_LandCover.tif``.

    Attributes:
        name: the tile's name (``<name>_NAIP.tif``).
        image: path or storage URL of the imagery.
        label: path or storage URL of the labels.
    """

    name: str
    image: str
    label: str


@dataclass(frozen=True)
class Tile:
    """A validated tile pair: its header facts, label scheme and class histogram.

    Attributes:
        pair: the files.
        info: the imagery's header.
        scheme: the class scheme of its labels.
        class_counts: pixels per class, when the labels were read.
    """

    pair: TilePair
    info: RasterInfo
    scheme: ClassScheme
    class_counts: npt.NDArray[np.int64] | None = field(default=None, compare=False)

    @property
    def height(self) -> int:
        """Rows."""
        return self.info.height

    @property
    def width(self) -> int:
        """Columns."""
        return self.info.width


def discover_pairs(
    root: str | Path, *, image_suffix: str = IMAGE_SUFFIX, label_suffix: str = LABEL_SUFFIX
) -> list[TilePair]:
    """Find tile pairs in a folder or under a storage URL by the tutorial's naming; every file needs its partner.

    Args:
        root: a local folder or a storage URL prefix (``az://container/tiles``).
        image_suffix: what imagery file names end with.
        label_suffix: what label file names end with.
    """
    if is_remote(root):
        return [TilePair(*found) for found in
                discover_remote_pairs(str(root), image_suffix=image_suffix, label_suffix=label_suffix)]
    folder = local_path(root)
    if not folder.is_dir():
        raise EmptyDatasetError(f"{folder}: not a folder")
    images = {p.name[: -len(image_suffix)]: p for p in folder.iterdir() if p.name.endswith(image_suffix)}
    labels = {p.name[: -len(label_suffix)]: p for p in folder.iterdir() if p.name.endswith(label_suffix)}
    for name in sorted(set(images) - set(labels)):
        raise MissingPartnerError(images[name], f"no label partner {name}{label_suffix} in {folder}")
    for name in sorted(set(labels) - set(images)):
        raise MissingPartnerError(labels[name], f"no imagery partner {name}{image_suffix} in {folder}")
    if not images:
        raise EmptyDatasetError(f"{folder}: no tile pairs (*{image_suffix} + *{label_suffix})")
    return [TilePair(n, str(images[n]), str(labels[n])) for n in sorted(images)]


def strip_image_suffix(name: str, image_suffix: str = IMAGE_SUFFIX) -> str:
    """A tile's name from its imagery file name: ``m_3807_NAIP.tif`` → ``m_3807`` (else ``.tif``/``.tiff`` cut)."""
    for suffix in (image_suffix, ".tiff", ".tif"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _as_pair(item: TilePair | tuple[str, str] | Sequence[str], label_suffix: str) -> TilePair:
    if isinstance(item, TilePair):
        return item
    image, label = str(item[0]), str(item[1])
    return TilePair(strip_image_suffix(Path(image).name), image, label)


class TileDataset:
    """Pairs of georeferenced 4-band imagery and land-cover labels, validated up front.

    Every pair is checked before any pixel is used: both files readable, imagery with the
    configured bands in uint8, labels one integer band, identical CRS/transform/size, and (when
    ``check_labels``) every label code valid for the class scheme. With ``class_scheme="auto"``
    each label file's scheme is inferred from its metadata tag or its codes (tutorial 0-4 or
    raw Chesapeake codes, whose 15 = no data becomes class 0).

    Reads return ``(image float32 (bands, h, w) * scale, label int64 (h, w))``. With
    ``cache="memory"`` each tile is read once and kept (the tutorial's behaviour); with
    ``"windowed"`` every read touches only the window on disk; ``"auto"`` keeps tiles up to
    ``cache_max_megapixels``.

    Args:
        pairs: ``TilePair`` objects or ``(image, label)`` paths / storage URLs.
        bands: 1-based imagery bands to read, in the model's order.
        scale: factor applied to uint8 imagery (the tutorial: 1/256).
        class_scheme: ``"auto"``, a built-in scheme name or a :class:`~landcover_sdk.ClassScheme`.
        cache: ``"memory"``, ``"windowed"`` or ``"auto"`` (see above).
        cache_max_megapixels: the ``"auto"`` cache's limit per tile.
        check_labels: read every label value up front and refuse codes outside the scheme.
        label_suffix: label file-name ending, used to name pairs given as tuples.

    Example:
        >>> from landcover_sdk import TileDataset
        >>> from landcover_sdk.data import RandomWindowSampler
        >>> ds = TileDataset.from_folder("tiles")  # doctest: +SKIP
        >>> image, labels = RandomWindowSampler(ds, seed=0).load_minibatch(0)  # doctest: +SKIP
        >>> image.shape, labels.shape  # doctest: +SKIP
        ((10, 4, 256, 256), (10, 256, 256))
    """

    def __init__(
        self,
        pairs: Iterable[TilePair | tuple[str, str]],
        *,
        bands: Sequence[int] = (1, 2, 3, 4),
        scale: float = 1.0 / 256.0,
        class_scheme: str | ClassScheme = "auto",
        cache: Literal["auto", "memory", "windowed"] = "auto",
        cache_max_megapixels: int = 64,
        check_labels: bool = True,
        label_suffix: str = LABEL_SUFFIX,
    ) -> None:
        self.pairs = [_as_pair(p, label_suffix) for p in pairs]
        if not self.pairs:
            raise EmptyDatasetError("no tile pairs given")
        self.bands = tuple(int(b) for b in bands)
        self.scale = float(scale)
        self.cache = cache
        self.cache_max_megapixels = cache_max_megapixels
        self._fixed_scheme = None if class_scheme == "auto" else get_scheme(class_scheme)
        self.tiles = [self._validate(p, check_labels) for p in self.pairs]
        first = self.tiles[0].scheme
        for t in self.tiles[1:]:
            if not t.scheme.same_classes(first):
                raise LabelValueError(
                    t.pair.label, f"scheme {t.scheme.name!r} has other classes than {first.name!r} of the first tile"
                )
        self.scheme = first
        self._memory: dict[int, tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        log.info("TileDataset: %d tile pair(s), scheme %s", len(self.tiles), self.scheme.name)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_folder(
        cls,
        root: str | Path,
        *,
        image_suffix: str = IMAGE_SUFFIX,
        label_suffix: str = LABEL_SUFFIX,
        **kwargs: Any,
    ) -> TileDataset:
        """Discover ``<name>_NAIP.tif`` + ``<name>_LandCover.tif`` pairs in a folder or storage URL.

        Args:
            root: a folder or a storage URL prefix.
            image_suffix: what imagery file names end with.
            label_suffix: what label file names end with.
            **kwargs: the other :class:`TileDataset` arguments (``bands``, ``cache``, ...).
        """
        pairs = discover_pairs(root, image_suffix=image_suffix, label_suffix=label_suffix)
        return cls(pairs, label_suffix=label_suffix, **kwargs)

    @classmethod
    def from_config(cls, config: DataConfig) -> TileDataset:
        """Build a dataset from a :class:`~landcover_sdk.config.DataConfig`."""
        kwargs: dict[str, Any] = dict(
            bands=config.bands,
            scale=config.scale,
            class_scheme=config.class_scheme,
            cache=config.cache,
            cache_max_megapixels=config.cache_max_megapixels,
            check_labels=config.check_labels,
        )
        if config.pairs:
            return cls([tuple(p) for p in config.pairs], label_suffix=config.label_suffix, **kwargs)  # type: ignore[misc]
        assert config.root is not None
        return cls.from_folder(
            config.root, image_suffix=config.image_suffix, label_suffix=config.label_suffix, **kwargs
        )

    def _validate(self, pair: TilePair, check_labels: bool) -> Tile:
        image = read_info(pair.image)
        label = read_info(pair.label)
        validate_image(image, self.bands)
        validate_label(label)
        check_aligned(image, label)
        if image.crs is None:
            log.warning("%s: imagery has no CRS; geographic lookups will fail", pair.image)
        scheme = self._fixed_scheme
        if scheme is None and SCHEME_TAG in label.tags:
            scheme = get_scheme(label.tags[SCHEME_TAG])
        counts = None
        if check_labels or scheme is None:
            codes = code_histogram(pair.label)
            if scheme is None:
                scheme = infer_scheme(codes, source=pair.label)
            scheme.check_codes(codes, source=pair.label)
            counts = np.zeros(scheme.num_classes, dtype=np.int64)
            for code, n in codes.items():
                mapped = scheme.map_code(code)
                assert mapped is not None
                counts[mapped] += n
        return Tile(pair=pair, info=image, scheme=scheme, class_counts=counts)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.tiles)

    def __repr__(self) -> str:
        return f"TileDataset({len(self.tiles)} tiles, bands={list(self.bands)}, scheme={self.scheme.name!r})"

    @property
    def num_classes(self) -> int:
        """Number of classes of the dataset's scheme."""
        return self.scheme.num_classes

    def subset(self, indices: Sequence[int]) -> TileDataset:
        """A dataset over some of this dataset's tiles, e.g. a hold-out split (validated once, not again).

        Tiles already held in memory are shared, not copied.
        """
        new = object.__new__(TileDataset)
        new.__dict__.update(self.__dict__)
        new.pairs = [self.pairs[i] for i in indices]
        new.tiles = [self.tiles[i] for i in indices]
        new._memory = {k: self._memory[i] for k, i in enumerate(indices) if i in self._memory}
        new._lock = threading.Lock()
        new._local = threading.local()
        return new

    def class_histogram(self) -> npt.NDArray[np.int64]:
        """Pixels per class over all tiles (needs ``check_labels``; counted at validation)."""
        total = np.zeros(self.num_classes, dtype=np.int64)
        for t in self.tiles:
            if t.class_counts is None:
                raise InvalidRasterError(
                    t.pair.label, "class counts not computed (dataset built with check_labels=False)"
                )
            total += t.class_counts
        return total

    def in_memory(self, index: int) -> bool:
        """Whether tile ``index`` is served from memory."""
        if self.cache == "memory":
            return True
        if self.cache == "windowed":
            return False
        t = self.tiles[index]
        return t.width * t.height <= self.cache_max_megapixels * 1_000_000

    def _load(self, index: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        with self._lock:
            hit = self._memory.get(index)
            if hit is not None:
                return hit
            t = self.tiles[index]
            whole = PixelWindow(0, 0, t.height, t.width)
            with open_raster(t.pair.image) as ds:
                image = read_window(ds, whole, bands=self.bands, source=t.pair.image)
            with open_raster(t.pair.label) as ds:
                label = t.scheme.remap(read_window(ds, whole, bands=1, source=t.pair.label), source=t.pair.label)
            self._memory[index] = (image, label)
            log.debug("loaded tile %s into memory", t.pair.name)
            return image, label

    def read_raw(self, index: int, window: PixelWindow) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Raw imagery bands (uint8) and class ids (uint8) of ``window`` inside tile ``index``."""
        t = self.tiles[index]
        require_inside(window, t.height, t.width, t.pair.image)
        if self.in_memory(index):
            image, label = self._load(index)
            rows, cols = window.slices()
            return image[:, rows, cols], label[rows, cols]
        img = read_window(self._reader(t.pair.image), window, bands=self.bands, source=t.pair.image)
        return img, self.read_labels(index, window)

    def read_labels(self, index: int, window: PixelWindow) -> npt.NDArray[np.uint8]:
        """Class ids (uint8) of ``window`` inside tile ``index`` (reads only the label band)."""
        t = self.tiles[index]
        require_inside(window, t.height, t.width, t.pair.label)
        if self.in_memory(index):
            rows, cols = window.slices()
            return self._load(index)[1][rows, cols]
        raw = read_window(self._reader(t.pair.label), window, bands=1, source=t.pair.label)
        return t.scheme.remap(raw, source=t.pair.label)

    def _reader(self, path: str) -> DatasetReader:
        """An open handle on ``path`` for this thread (rasterio handles are not thread-safe)."""
        readers: dict[str, DatasetReader] | None = getattr(self._local, "readers", None)
        if readers is None:
            readers = self._local.readers = {}
            self._local.stack = contextlib.ExitStack()
        ds = readers.get(path)
        if ds is None:
            ds = readers[path] = self._local.stack.enter_context(open_raster(path))
        return ds

    def close(self) -> None:
        """Close the file handles this thread holds (they reopen on demand)."""
        stack = getattr(self._local, "stack", None)
        if stack is not None:
            stack.close()
            self._local.readers = None

    def read(self, index: int, window: PixelWindow) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """``(image float32 (bands, h, w) * scale, label int64 (h, w))`` of a window."""
        img, lab = self.read_raw(index, window)
        return (img.astype(np.float32) * np.float32(self.scale)), lab.astype(np.int64)

