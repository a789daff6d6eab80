"""From a region to a plan: where the place is, which items cover it (the year policy), and the output grid.

Everything here is decided from catalog footprints before a pixel is read; the pixels are
checked again when the mosaic is built. The grid is the tutorial's: the centre item's CRS at
1 m, the region plus the model's margin on every side, on the centre item's own pixel lattice
when that item is already 1 m (so a place inside one 1 m tile gives the tile's bytes), else on
whole metres.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from affine import Affine
from rasterio.crs import CRS

from ..config.region import Region
from ..data.geo import reproject_geometry as reproject_geometry
from ..data.geo import transformer
from ..data.windows import PixelWindow
from ..errors import ConfigError, CoordinateError, InvalidRasterError, NoCoverageError
from .items import NaipItem

#: Where NAIP exists (west, south, east, north, WGS84): the contiguous US, Hawaii, Puerto Rico and the USVI.
NAIP_EXTENT: tuple[tuple[float, float, float, float], ...] = (
    (-125.0, 24.3, -66.8, 49.5),
    (-160.5, 18.8, -154.6, 22.4),
    (-68.0, 17.5, -64.4, 18.7),
)
NAIP_EXTENT_TEXT = "the contiguous US, Hawaii, Puerto Rico and the US Virgin Islands"

#: Bands the model reads (R, G, B, NIR).
MODEL_BANDS = 4
_FULL = 1.0 - 1e-6


@dataclass(frozen=True)
class Place:
    """A region located on the ground before any imagery is chosen.

    Attributes:
        region: the region as given.
        centre: ``(lon, lat)`` of its centre (WGS84).
        local_crs: a metric CRS around the place (its UTM zone) for areas and margins.
        area: the region in ``local_crs`` (shapely).
        search_area: the region grown by the margin, in ``local_crs``.
    """

    region: Region
    centre: tuple[float, float]
    local_crs: CRS
    area: Any
    search_area: Any

    def to_wgs84(self, geometry: Any) -> Any:
        """``geometry`` from :attr:`local_crs` to WGS84 (edges densified)."""
        return reproject_geometry(geometry, self.local_crs, CRS.from_epsg(4326))

    def from_wgs84(self, geometry: Any) -> Any:
        """``geometry`` from WGS84 to :attr:`local_crs`."""
        return reproject_geometry(geometry, CRS.from_epsg(4326), self.local_crs)

    def describe(self) -> str:
        """The region, for messages."""
        return self.region.describe()


def locate(region: Region, *, resolution: float, margin: int,
           extent: Sequence[tuple[float, float, float, float]] | None = NAIP_EXTENT) -> Place:
    """Where ``region`` is: its centre, a local metric CRS, its area and its area plus margin.

    Args:
        region: a point and size, bounds or a geometry (``crs`` default WGS84); pixel windows
            and "whole raster" have no meaning before a grid exists.
        resolution: output pixel size in metres (a point-and-size region is ``region_size`` pixels of it).
        margin: pixels of imagery wanted around the region.
        extent: WGS84 boxes the imagery exists in; a region outside all fails here, before any request.

    Raises:
        ConfigError: a window or whole-raster region.
        NoCoverageError: a region outside ``extent``.
    """
    import shapely
    import shapely.geometry

    if region.kind in ("window", "whole"):
        raise ConfigError(f"region: {region.describe()} names pixels of a raster; for imagery from a catalog give "
                          "center_lat/center_lon (+ region_size), bounds or a geometry")
    wgs84 = CRS.from_epsg(4326)
    if region.kind == "around":
        assert region.center_lat is not None and region.center_lon is not None
        lon, lat = region.center_lon, region.center_lat
        local = _utm(lon, lat)
        x, y = transformer(wgs84, local).transform(lon, lat)
        half = region.region_size * resolution / 2
        area = shapely.geometry.box(x - half, y - half, x + half, y + half)
    else:
        crs = _region_crs(region)
        shape = shapely.geometry.box(*region.bounds) if region.bounds is not None else region.shape()
        geo = reproject_geometry(shape, crs, wgs84) if crs != wgs84 else shape
        c = geo.centroid
        lon, lat = float(c.x), float(c.y)
        local = _utm(lon, lat)
        area = reproject_geometry(shape, crs, local)
    if extent is not None and not any(w <= lon <= e and s <= lat <= n for w, s, e, n in extent):
        raise NoCoverageError(f"{region.describe()}: ({lat:.6f}, {lon:.6f}) is outside NAIP's coverage "
                              f"({NAIP_EXTENT_TEXT})")
    search = area.buffer(margin * resolution, join_style="mitre") if margin else area
    return Place(region, (lon, lat), local, area, search)


def _region_crs(region: Region) -> CRS:
    from rasterio.errors import CRSError

    try:
        return CRS.from_user_input(region.crs or "EPSG:4326")
    except CRSError as exc:
        raise ConfigError(f"region.crs: {region.crs!r} is not a coordinate reference system ({exc})") from None


def _utm(lon: float, lat: float) -> CRS:
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


# ---------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Selection:
    """Items chosen for a place, in the order their pixels win (first valid pixel is kept).

    Attributes:
        items: the items, best first.
        years: the years used (newest first).
        coverage: per year, the fraction of the region its usable items cover (from footprints).
        skipped: ``(item id, reason)`` of items left out (too few bands, unreadable header, ...).
    """

    items: tuple[NaipItem, ...]
    years: tuple[int, ...]
    coverage: dict[int, float]
    skipped: tuple[tuple[str, str], ...] = field(default=())


def select_items(candidates: Sequence[NaipItem], place: Place, *, year: int | None = None,
                 allow_mixed_years: bool = False, allow_partial: bool = False,
                 skipped: Sequence[tuple[str, str]] = ()) -> Selection:
    """Apply the year policy to the items a catalog returned for ``place``.

    ``year=None``: the newest year whose 4-band items cover the region; ``year=Y``: that year,
    which must cover it. ``allow_mixed_years``: when no single year covers it, years are combined
    newest first. ``allow_partial``: take the best year even if it covers only part (the rest
    stays no data). Within a year: items containing the centre first, then larger overlap,
    finer resolution, newer acquisition, and the id (so runs are deterministic).

    Args:
        candidates: items whose footprints meet the place.
        place: the located region.
        year: the NAIP year, or ``None`` for the newest that covers.
        allow_mixed_years: combine years when no single one covers.
        allow_partial: accept incomplete coverage.
        skipped: items already ruled out (e.g. by their header), ``(id, reason)``.

    Raises:
        NoCoverageError: nothing (or not the asked year) covers the region, listing the years
            available there and how much of the region each covers.
        InvalidRasterError: ``year`` was asked and its covering item has fewer than 4 bands.
    """
    ruled_out = dict(skipped)
    usable: list[NaipItem] = []
    for item in candidates:
        if item.id in ruled_out:
            continue
        if item.bands is not None and item.bands < MODEL_BANDS:
            ruled_out[item.id] = band_problem(item.bands)
            continue
        if place.from_wgs84(item.shape()).intersects(place.search_area):
            usable.append(item)
    by_year: dict[int, list[NaipItem]] = {}
    for item in usable:
        by_year.setdefault(item.year, []).append(item)
    coverage = {y: _covered(place, items) for y, items in sorted(by_year.items(), reverse=True)}
    all_years = sorted({i.year for i in candidates}, reverse=True)
    if year is not None:
        if coverage.get(year, 0.0) < _FULL and not allow_partial:
            bad = [i for i in candidates if i.year == year and i.id in ruled_out
                   and place.from_wgs84(i.shape()).intersects(place.area)]
            if bad:
                raise InvalidRasterError(bad[0].id, ruled_out[bad[0].id])
            raise NoCoverageError(_no_coverage(place, year, coverage, all_years))
        chosen = [year] if year in by_year else []
    else:
        full = [y for y, f in coverage.items() if f >= _FULL]
        if full:
            chosen = [full[0]]
        elif allow_mixed_years and coverage and _covered(place, usable) >= _FULL:
            chosen = sorted(by_year, reverse=True)
        elif allow_partial and coverage:
            chosen = [max(coverage, key=lambda y: (coverage[y], y))]
        else:
            raise NoCoverageError(_no_coverage(place, None, coverage, all_years, mixed_would=(
                len(coverage) > 1 and _covered(place, usable) >= _FULL)))
    if not chosen:
        raise NoCoverageError(_no_coverage(place, year, coverage, all_years))
    ordered = sorted((i for i in usable if i.year in chosen), key=lambda i: (-i.year, *_priority(place, i)))
    if not allow_mixed_years:
        ordered = [i for i in ordered if i.year == chosen[0]]
    return Selection(tuple(ordered), tuple(chosen), coverage,
                     tuple(sorted((k, v) for k, v in ruled_out.items())))


def band_problem(bands: int) -> str:
    """Why an image of ``bands`` bands cannot be used, e.g. ``3 bands (R,G,B); the model needs 4 (R,G,B,NIR)``.

    Args:
        bands: the image's band count.
    """
    named = "R,G,B" if bands == 3 else f"{bands} band(s)"
    return f"{bands} bands ({named}); the model needs {MODEL_BANDS} (R,G,B,NIR)"


def _covered(place: Place, items: Sequence[NaipItem]) -> float:
    import shapely

    if not items or place.area.area == 0:
        return 0.0
    union = shapely.union_all([place.from_wgs84(i.shape()) for i in items])
    return float(union.intersection(place.area).area / place.area.area)


def _priority(place: Place, item: NaipItem) -> tuple[Any, ...]:
    import shapely.geometry

    footprint = place.from_wgs84(item.shape())
    centre = place.from_wgs84(shapely.geometry.Point(*place.centre))
    overlap = footprint.intersection(place.search_area).area
    return (not footprint.contains(centre), -round(overlap, 3), item.gsd if item.gsd is not None else math.inf,
            -_timestamp(item.datetime), item.id)


def _timestamp(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _no_coverage(place: Place, year: int | None, coverage: dict[int, float], all_years: Sequence[int], *,
                 mixed_would: bool = False) -> str:
    lat = f"({place.centre[1]:.6f}, {place.centre[0]:.6f})"
    where = f"{place.describe()}" if place.region.kind == "around" else f"{place.describe()} at {lat}"
    def entry(y: int) -> str:
        if y not in coverage:
            return f"{y} (no 4-band imagery)"
        return str(y) if coverage[y] >= _FULL else f"{y} ({coverage[y]:.0%})"

    listing = ", ".join(entry(y) for y in all_years) or "none"
    if year is not None:
        got = coverage.get(year, 0.0)
        what = f"no NAIP {year} covers {where}" if got == 0 else \
            f"NAIP {year} covers only {got:.1%} of {where}"
        return f"{what}; available there: {listing}"
    if not all_years:
        return f"no NAIP imagery covers {where}"
    hint = "; allow_mixed_years (--allow-mixed-years) combines them" if mixed_would else ""
    return f"no single NAIP year with 4-band imagery covers {where}; available there: {listing}{hint}"


# ---------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class TargetGrid:
    """The scene's grid: CRS, geotransform, size, and the region's window inside it.

    Attributes:
        crs: the centre item's CRS.
        transform: geotransform of the scene's pixel (0, 0).
        height: rows.
        width: columns.
        inner: the region's pixels inside the scene (the scene is this window plus the margin).
    """

    crs: CRS
    transform: Affine
    height: int
    width: int
    inner: PixelWindow

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``scene.json``."""
        inner = self.inner
        return {"crs": self.crs.to_string(), "transform": list(self.transform)[:6], "height": self.height,
                "width": self.width, "inner_window": [inner.row, inner.col, inner.height, inner.width]}


def plan_grid(place: Place, crs: CRS, anchor: Affine, *, resolution: float, margin: int) -> TargetGrid:
    """The scene grid for ``place`` in ``crs``, on ``anchor``'s lattice when it has ``resolution`` pixels.

    A point-and-size region is placed exactly as on a local raster (the tutorial's
    ``floor(row) - size // 2``); bounds and geometries take every pixel they touch. Then
    ``margin`` pixels are added on every side.

    Args:
        place: the located region.
        crs: the output CRS (the centre item's).
        anchor: the centre item's geotransform.
        resolution: output pixel size (CRS units, metres for NAIP).
        margin: pixels added on every side.
    """
    if _same_resolution(anchor, resolution):
        x0, y0 = anchor.c, anchor.f
    else:  # whole multiples of the resolution, like NAIP's own 1 m tiles
        x0 = math.floor(anchor.c / resolution) * resolution
        y0 = math.ceil(anchor.f / resolution) * resolution
    lattice = Affine(resolution, 0.0, x0, 0.0, -resolution, y0)
    region = place.region
    if region.kind == "around":
        from ..data.geo import latlon_to_pixel

        assert region.center_lat is not None and region.center_lon is not None
        row, col = latlon_to_pixel(region.center_lat, region.center_lon, crs, lattice)
        size = region.region_size
        r0, c0, h, w = math.floor(row) - size // 2, math.floor(col) - size // 2, size, size
    else:
        rcrs = _region_crs(region)
        import shapely.geometry

        shape = shapely.geometry.box(*region.bounds) if region.bounds is not None else region.shape()
        minx, miny, maxx, maxy = reproject_geometry(shape, rcrs, crs).bounds
        inv = ~lattice
        c_lo, r_lo = inv @ (minx, maxy)
        c_hi, r_hi = inv @ (maxx, miny)
        r0, c0 = math.floor(r_lo + 1e-9), math.floor(c_lo + 1e-9)
        h, w = math.ceil(r_hi - 1e-9) - r0, math.ceil(c_hi - 1e-9) - c0
        if h <= 0 or w <= 0:
            raise CoordinateError(f"{region.describe()}: smaller than one {resolution:g} m pixel")
    transform = lattice @ Affine.translation(c0 - margin, r0 - margin)
    return TargetGrid(crs, transform, h + 2 * margin, w + 2 * margin, PixelWindow(margin, margin, h, w))


def _same_resolution(t: Affine, resolution: float) -> bool:
    return t.b == 0 and t.d == 0 and math.isclose(t.a, resolution, rel_tol=1e-9) and \
        math.isclose(-t.e, resolution, rel_tol=1e-9)


def lattice_offset(item: Affine, item_crs: CRS, grid: TargetGrid) -> tuple[int, int] | None:
    """``(row, col)`` of the grid's pixel (0, 0) in an item's pixels, when the item shares the grid's lattice.

    Then the item's pixels are the grid's pixels and are copied, not resampled.

    Args:
        item: the item's geotransform.
        item_crs: the item's CRS.
        grid: the scene grid.
    """
    g = grid.transform
    if item_crs != grid.crs or not _same_resolution(item, g.a) or not math.isclose(g.a, -g.e):
        return None
    dc, dr = (g.c - item.c) / g.a, (g.f - item.f) / g.e
    if abs(dc - round(dc)) > 1e-6 or abs(dr - round(dr)) > 1e-6:
        return None
    return round(dr), round(dc)
