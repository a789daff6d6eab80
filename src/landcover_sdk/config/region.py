"""One typed region of interest, used by the library, the command line and job files alike.

A :class:`Region` names the part of a raster to predict in exactly one of four ways — a pixel
window, bounds in some CRS, a GeoJSON geometry in some CRS, or the tutorial's point and square
size — or, empty, the whole raster. It is plain data (YAML/JSON in job files); resolving it
against a particular raster (:func:`landcover_sdk.data.region.resolve_region`) gives the pixel
window.

Example:
    >>> from landcover_sdk import Region
    >>> Region.around(37.055522, -78.638640, size=1024).kind
    'around'
    >>> Region.from_dict({"centre_lat": 37.0})
    Traceback (most recent call last):
    ...
    landcover_sdk.errors.ConfigError: region.centre_lat: unknown key
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import (
    Field,
    PositiveInt,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ..errors import ConfigError
from .base import StrictModel

#: Side of the blocks a tutorial region is made of (the network's 128-pixel core).
TUTORIAL_BLOCK = 128

RegionKind = Literal["whole", "window", "bounds", "geometry", "around"]


class _WindowLike(Protocol):
    @property
    def row(self) -> int: ...
    @property
    def col(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def width(self) -> int: ...


class Region(StrictModel):
    """A region of interest: at most one of ``window``, ``bounds``, ``geometry`` or ``center_lat``/``center_lon``.

    Build one with :meth:`around`, :meth:`from_window`, :meth:`from_bounds`,
    :meth:`from_geometry` or :meth:`whole` (each raises :class:`~landcover_sdk.ConfigError`, never
    a pydantic error), or from a mapping with :meth:`from_dict` / :meth:`coerce`. The serialised
    form is the one job files use, e.g. ``{center_lat: 37.05, center_lon: -78.64, region_size: 1024}``.
    """

    window: tuple[int, int, PositiveInt, PositiveInt] | None = Field(
        default=None, description="pixel window (row, col, height, width), numpy order, inside the raster")
    bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="(minx, miny, maxx, maxy) in `crs`; the window is the pixels they touch")
    geometry: dict[str, Any] | None = Field(
        default=None, description="GeoJSON geometry in `crs`: its bounding window is predicted and pixels "
                                  "outside it become the no-data class")
    crs: str | None = Field(
        default=None, description="CRS of `bounds` or `geometry` (EPSG:…, WKT or PROJ); default the raster's CRS")
    center_lat: float | None = Field(
        default=None, ge=-90.0, le=90.0, description="WGS84 latitude of the centre of a square region")
    center_lon: float | None = Field(
        default=None, ge=-180.0, le=180.0, description="WGS84 longitude of the centre of a square region")
    region_size: PositiveInt = Field(
        default=1024, description="side in pixels of the square around center_lat/center_lon, a multiple of 128 "
                                  "(the tutorial: 1024, i.e. 1 km² of 1 m NAIP)")

    @model_serializer(mode="wrap")
    def _only_what_is_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written out (job files, JSON) a region keeps only the way it is named, so it reads back the same.
        data: dict[str, Any] = handler(self)
        keep = {k: v for k, v in data.items() if v is not None}
        if self.center_lat is None:
            keep.pop("region_size", None)
        return keep

    @field_validator("geometry", mode="before")
    @classmethod
    def _geojson(cls, value: Any) -> Any:
        import shapely
        import shapely.geometry

        if value is None:
            return None
        if not isinstance(value, shapely.Geometry):
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a GeoJSON mapping or a shapely geometry, got {type(value).__name__}")
            try:
                value = shapely.geometry.shape(value)
            except Exception as exc:  # shapely raises several types for malformed GeoJSON
                raise ValueError(f"not a GeoJSON geometry ({type(exc).__name__}: {exc})") from exc
        if value.is_empty:
            raise ValueError("empty geometry")
        # one canonical GeoJSON form (lists, floats), so a region reads back equal to what was written
        geojson: dict[str, Any] = json.loads(shapely.to_geojson(value))
        return geojson

    @model_validator(mode="after")
    def _one_way(self) -> Region:
        if (self.center_lat is None) != (self.center_lon is None):
            raise ValueError("center_lat and center_lon go together")
        given = [name for name, v in (("window", self.window), ("bounds", self.bounds),
                                      ("geometry", self.geometry), ("center_lat/center_lon", self.center_lat))
                 if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one way of naming the region, not {' and '.join(given)}")
        if self.crs is not None and self.bounds is None and self.geometry is None:
            raise ValueError("crs: only for bounds or geometry")
        if "region_size" in self.model_fields_set and self.center_lat is None:
            raise ValueError("region_size: only with center_lat/center_lon")
        if self.center_lat is not None and self.region_size % TUTORIAL_BLOCK:
            raise ValueError(f"region_size: {self.region_size} is not a multiple of {TUTORIAL_BLOCK}")
        if self.bounds is not None:
            minx, miny, maxx, maxy = self.bounds
            if not (minx < maxx and miny < maxy):
                raise ValueError(f"bounds: {self.bounds} is not (minx, miny, maxx, maxy) with min < max")
        return self

    # ------------------------------------------------------------------ constructors
    @classmethod
    def coerce(cls, value: Region | Mapping[str, Any] | None, *, field: str = "region") -> Region:
        """``value`` as a Region: a Region as it is, a mapping validated (errors name ``field``), None = whole."""
        if value is None:
            return cls()
        if isinstance(value, Region):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{field}: expected a Region or a mapping, got {type(value).__name__}")
        return cls.from_dict(dict(value), source="", prefix=field)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "", prefix: str = "region") -> Region:
        """Validate a mapping; errors are :class:`~landcover_sdk.ConfigError`s naming ``region.<field>``.

        Args:
            data: the mapping (e.g. a job file's ``region:``).
            source: the file it came from, named in errors.
            prefix: the path errors name the fields under.
        """
        return cls._validated(data, source=source, prefix=prefix)

    @classmethod
    def whole(cls) -> Region:
        """The whole raster."""
        return cls()

    @classmethod
    def around(cls, lat: float, lon: float, size: int = 1024) -> Region:
        """The tutorial's region: a ``size`` × ``size`` pixel square centred on a WGS84 latitude/longitude.

        Args:
            lat: latitude in degrees (WGS84).
            lon: longitude in degrees (WGS84).
            size: side in pixels, a multiple of 128 (the tutorial: 1024).
        """
        return cls._validated({"center_lat": lat, "center_lon": lon, "region_size": size})

    @classmethod
    def from_window(cls, window: Sequence[int] | _WindowLike) -> Region:
        """A pixel window: ``(row, col, height, width)`` or a :class:`~landcover_sdk.data.PixelWindow`."""
        if not isinstance(window, Sequence):
            window = (window.row, window.col, window.height, window.width)
        return cls._validated({"window": tuple(window)})

    @classmethod
    def from_bounds(cls, bounds: Sequence[float], crs: str | Any | None = None) -> Region:
        """Bounds ``(minx, miny, maxx, maxy)`` in ``crs`` (default: the raster's CRS).

        Args:
            bounds: ``(minx, miny, maxx, maxy)``.
            crs: anything ``rasterio.crs.CRS.from_user_input`` takes (stored as text).
        """
        return cls._validated({"bounds": tuple(bounds), "crs": _crs_text(crs)})

    @classmethod
    def from_geometry(cls, geometry: Any, crs: str | Any | None = None) -> Region:
        """A shapely geometry or GeoJSON mapping in ``crs``; pixels outside it become no data.

        Args:
            geometry: a shapely geometry or a GeoJSON geometry mapping.
            crs: CRS of the geometry (default: the raster's CRS).
        """
        return cls._validated({"geometry": geometry, "crs": _crs_text(crs)})

    @classmethod
    def _validated(cls, data: dict[str, Any], *, source: str = "", prefix: str = "region") -> Region:
        from pydantic import ValidationError

        from .base import format_validation_error

        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, prefix=prefix, source=source)) from None

    # ------------------------------------------------------------------ reading
    @property
    def kind(self) -> RegionKind:
        """Which way the region is named."""
        if self.window is not None:
            return "window"
        if self.bounds is not None:
            return "bounds"
        if self.geometry is not None:
            return "geometry"
        if self.center_lat is not None:
            return "around"
        return "whole"

    def shape(self) -> Any:
        """The geometry as a shapely object (``None`` unless :attr:`kind` is ``"geometry"``)."""
        if self.geometry is None:
            return None
        import shapely.geometry

        return shapely.geometry.shape(self.geometry)

    def describe(self) -> str:
        """A short human-readable description, for logs."""
        if self.window is not None:
            r, c, h, w = self.window
            return f"window rows {r}..{r + h}, cols {c}..{c + w}"
        if self.bounds is not None:
            return f"bounds {self.bounds}" + (f" in {self.crs}" if self.crs else "")
        if self.geometry is not None:
            return f"{self.geometry.get('type', 'geometry')}" + (f" in {self.crs}" if self.crs else "")
        if self.center_lat is not None:
            return f"{self.region_size}x{self.region_size} px around ({self.center_lat}, {self.center_lon})"
        return "whole raster"


def _crs_text(crs: Any) -> str | None:
    if crs is None or isinstance(crs, str):
        return crs
    to_string = getattr(crs, "to_string", None)
    return str(to_string()) if callable(to_string) else str(crs)
