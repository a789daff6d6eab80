"""``NaipSource``: NAIP for a place, from a STAC catalog, as a cached local scene on the tutorial's grid.

Example:
    >>> from landcover_sdk import NaipSource
    >>> source = NaipSource.from_planetary_computer()            # doctest: +SKIP
    >>> scene = source.for_region(center=(37.055522, -78.638640), region_size=1024)  # doctest: +SKIP
    >>> scene.path, scene.window, [i.id for i in scene.items]   # doctest: +SKIP
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasterio.enums import Resampling

from .._atomic import atomic_output, atomic_write_text
from .._util import cache_dir, flock, is_remote, progress_bar, sha256_file
from .._version import __version__
from ..config.region import Region
from ..data.raster import GeoTiffWriter
from ..data.windows import PixelWindow
from ..errors import ConfigError, InvalidRasterError, NoCoverageError, StorageError
from ..storage import get_storage
from .access import Access, AnonymousAccess, PlanetaryComputerSas, RequesterPaysS3, public_href
from .catalog import Catalog, StacApiCatalog, StaticCatalog
from .items import DEFAULT_ASSET, NaipItem
from .mosaic import MOSAIC_VERSION, ItemHeader, ItemReader, MosaicStats, default_resampling, mosaic_block
from .names import (
    DEFAULT_SOURCE,
    SOURCE_PREFIX,
    SOURCES,
    SPEC_PREFIX,
    is_source_name,
    is_spec,
    parse_source_name,
    parse_spec,
    register_source,
)
from .plan import NAIP_EXTENT, Place, Selection, TargetGrid, locate, plan_grid, select_items

log = logging.getLogger(__name__)

PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"
EARTH_SEARCH_STAC = "https://earth-search.aws.element84.com/v1"
#: The image argument prefix naming a NAIP source (``naip:``, ``naip:earth-search``, ``naip:URL``, ``naip:PATH``).
SCENE_FORMAT = "landcover-sdk imagery scene 1"
BAND_NAMES = ("red", "green", "blue", "nir")
RESAMPLINGS = ("average", "bilinear", "cubic", "nearest", "lanczos")


@dataclass(frozen=True)
class ImageryScene:
    """A local 4-band scene on the tutorial's grid, fetched for a region (what :meth:`NaipSource.for_region` returns).

    Pass it to :meth:`~landcover_sdk.Predictor.predict_raster` as the source: the region is
    predicted with the scene's margin as real context.

    Attributes:
        path: the scene's COG (R, G, B, NIR; uint8; nodata 0).
        region: the region it was fetched for (predict this).
        window: the region's pixels inside the scene.
        items: the NAIP items whose pixels it holds, best first.
        provenance: ``scene.json``: items, years, per-item pixel fractions, hashes, skipped items.
        metadata_path: where ``scene.json`` is.
    """

    path: Path
    region: Region
    window: PixelWindow
    items: tuple[NaipItem, ...]
    provenance: dict[str, Any]
    metadata_path: Path

    @property
    def years(self) -> list[int]:
        """The NAIP years in the scene (newest first)."""
        return sorted({i.year for i in self.items}, reverse=True)

    def __fspath__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class FetchOptions:
    """How a source chooses and resamples imagery (part of the cache key).

    Attributes:
        year: the NAIP year, or ``None`` for the newest whose 4-band items cover the region.
        allow_mixed_years: combine years (newest first, per pixel) when no single year covers.
        allow_partial: accept a region only partly covered (the rest stays no data, class 0).
        resolution: output pixel size in metres (the tutorial's model: 1).
        resampling: ``average``/``bilinear``/``nearest``/…; ``None``: ``average`` from finer
            sources, ``bilinear`` across UTM zones.
        margin: pixels of imagery around the region (the model's margin, 64).
        max_items: most items a region may need ("region too large" beyond).
    """

    year: int | None = None
    allow_mixed_years: bool = False
    allow_partial: bool = False
    resolution: float = 1.0
    resampling: str | None = None
    margin: int = 64
    max_items: int = 64

    def __post_init__(self) -> None:
        if self.year is not None and not 1990 <= self.year <= 2100:
            raise ConfigError(f"year: {self.year} is not a NAIP year")
        if not self.resolution > 0:
            raise ConfigError(f"resolution: {self.resolution} must be positive")
        if self.resampling is not None and self.resampling not in RESAMPLINGS:
            raise ConfigError(f"resampling: {self.resampling!r} is not one of {', '.join(RESAMPLINGS)}")
        if self.margin < 0 or self.max_items < 1:
            raise ConfigError("margin must be ≥ 0 and max_items ≥ 1")


class NaipSource:
    """NAIP imagery for any place, from a STAC catalog.

    Build one with :meth:`from_planetary_computer`, :meth:`from_earth_search`,
    :meth:`from_stac_api`, :meth:`from_static_catalog` or :meth:`from_spec`; then
    :meth:`for_region` gives a cached local scene. Nothing is requested before
    :meth:`search`/:meth:`for_region`, and a cached scene needs no request at all.

    Args:
        catalog: where items are listed.
        access: how their assets are read.
        name: what the source is called in ``scene.json`` and messages.
        options: year policy, resolution, resampling, margin.
        asset: the item asset holding the 4-band image.
        extent: WGS84 boxes the imagery exists in (``None``: anywhere).
        cache: the scene cache folder (default ``<LANDCOVER_CACHE_DIR>/imagery``).
    """

    def __init__(self, catalog: Catalog, access: Access, *, name: str, options: FetchOptions | None = None,
                 asset: str = DEFAULT_ASSET,
                 extent: tuple[tuple[float, float, float, float], ...] | None = NAIP_EXTENT,
                 cache: str | Path | None = None) -> None:
        self.catalog = catalog
        self.access = access
        self.name = name
        self.options = options or FetchOptions()
        self.asset = asset
        self.extent = extent
        self._cache = Path(cache) if cache is not None else None

    def __repr__(self) -> str:
        return f"NaipSource({self.name!r}, {self.catalog!r}, year={self.options.year})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_planetary_computer(cls, year: int | None = None, *, subscription_key: str | None = None,
                                stac_url: str = PLANETARY_COMPUTER_STAC, sas_url: str | None = None,
                                collection: str = "naip", retries: int = 5, backoff: float = 0.5,
                                timeout: float = 60.0, **options: Any) -> NaipSource:
        """Microsoft's Planetary Computer (anonymous; SAS tokens fetched just before reading, in memory only).

        Args:
            year: the NAIP year (default: the newest that fully covers the region).
            subscription_key: optional Planetary Computer key (``PC_SDK_SUBSCRIPTION_KEY``).
            stac_url: the STAC API.
            sas_url: the token endpoint (``PC_SDK_SAS_URL``; default the Planetary Computer's).
            collection: the collection.
            retries: retries of a failing request (429/5xx/refused).
            backoff: seconds of the first retry's wait.
            timeout: seconds to wait for each catalog response.
            **options: further :class:`FetchOptions` fields and ``cache``.
        """
        headers = {"Ocp-Apim-Subscription-Key": subscription_key} if subscription_key else None
        catalog = StacApiCatalog(stac_url, collection=collection, retries=retries, backoff=backoff, headers=headers,
                                 timeout=timeout)
        access = PlanetaryComputerSas(sas_url, subscription_key=subscription_key, retries=retries)
        return cls._build(catalog, access, "planetary-computer", year, options)

    @classmethod
    def from_earth_search(cls, year: int | None = None, *, stac_url: str = EARTH_SEARCH_STAC,
                          collection: str = "naip", retries: int = 5, backoff: float = 0.5,
                          timeout: float = 60.0, **options: Any) -> NaipSource:
        """Element 84's Earth Search: NAIP in AWS's requester-pays bucket (your AWS account pays for reads).

        Args:
            year: the NAIP year (default: the newest that fully covers the region).
            stac_url: the STAC API.
            collection: the collection.
            retries: retries of a failing request.
            backoff: seconds of the first retry's wait.
            timeout: seconds to wait for each catalog response.
            **options: further :class:`FetchOptions` fields and ``cache``.
        """
        catalog = StacApiCatalog(stac_url, collection=collection, retries=retries, backoff=backoff, timeout=timeout)
        return cls._build(catalog, RequesterPaysS3(), "earth-search", year, options)

    @classmethod
    def from_stac_api(cls, url: str, *, collection: str = "naip", year: int | None = None,
                      access: Access | None = None, retries: int = 5, backoff: float = 0.5,
                      timeout: float = 60.0, **options: Any) -> NaipSource:
        """Any STAC API with item search whose items carry 4-band NAIP-like COGs.

        Args:
            url: the API's landing page.
            collection: the collection.
            year: the NAIP year (default: the newest that fully covers the region).
            access: how assets are read (default: files and public HTTP(S) COGs).
            retries: retries of a failing request.
            backoff: seconds of the first retry's wait.
            timeout: seconds to wait for each catalog response.
            **options: further :class:`FetchOptions` fields, ``asset``, ``extent`` and ``cache``.
        """
        catalog = StacApiCatalog(url, collection=collection, retries=retries, backoff=backoff, timeout=timeout)
        return cls._build(catalog, access or AnonymousAccess(), url, year, options)

    @classmethod
    def from_static_catalog(cls, path: str | Path, *, collection: str = "naip", year: int | None = None,
                            access: Access | None = None, **options: Any) -> NaipSource:
        """A static STAC catalog (``catalog.json``/``collection.json``, local or HTTP), walked client-side.

        Args:
            path: path or URL of the root catalog.
            collection: the collection.
            year: the NAIP year (default: the newest that fully covers the region).
            access: how assets are read (default: files and public HTTP(S) COGs).
            **options: further :class:`FetchOptions` fields, ``asset``, ``extent`` and ``cache``.
        """
        return cls._build(StaticCatalog(path, collection=collection), access or AnonymousAccess(), str(path), year,
                          options)

    @classmethod
    def _build(cls, catalog: Catalog, access: Access, name: str, year: int | None,
               options: dict[str, Any]) -> NaipSource:
        extra = {k: options.pop(k) for k in ("asset", "extent", "cache") if k in options}
        fields = {f.name for f in dataclasses.fields(FetchOptions)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ConfigError(f"NaipSource: unknown option(s) {', '.join(unknown)}")
        return cls(catalog, access, name=name, options=FetchOptions(year=year, **options), **extra)

    @classmethod
    def from_name(cls, spec: str, **overrides: Any) -> NaipSource:
        """A source named as an image argument: ``naip:`` followed by where, then ``?option=value&…``.

        Where: nothing (the default, ``planetary-computer``), a name registered in
        :data:`~landcover_sdk.imagery.SOURCES` (``planetary-computer``, ``earth-search``, a plugin's),
        a STAC API URL, or a static catalog (a path or URL ending in ``.json``). Options: ``year``,
        ``allow_mixed_years``, ``allow_partial``, ``resolution``, ``resampling``, ``collection``.
        ``naip:planetary-computer?year=2018``.

        Args:
            spec: the text.
            **overrides: options that win over those in the text (the CLI's flags).
        """
        where, opts = parse_source_name(spec)
        opts.update({k: v for k, v in overrides.items() if v is not None})
        collection = opts.pop("collection", "naip")
        year = opts.pop("year", None)
        if where.endswith(".json") and where not in SOURCES:
            return cls.from_static_catalog(where, collection=collection, year=year, **opts)
        if where.startswith(("http://", "https://")) and where not in SOURCES:
            return cls.from_stac_api(where, collection=collection, year=year, **opts)
        return SOURCES.get(where or DEFAULT_SOURCE).factory(year=year, collection=collection, **opts)

    @classmethod
    def from_spec(cls, spec: str, **overrides: Any) -> NaipSource:
        """The old name of :meth:`from_name`.

        Args:
            spec: the text.
            **overrides: options that win over those in the text.
        """
        return cls.from_name(spec, **overrides)

    def with_options(self, **changes: Any) -> NaipSource:
        """A copy with some :class:`FetchOptions` changed (``year=2018``, ``allow_partial=True``, ...).

        Args:
            **changes: the fields to change.
        """
        copy = NaipSource(self.catalog, self.access, name=self.name, asset=self.asset, extent=self.extent,
                          cache=self._cache, options=dataclasses.replace(self.options, **changes))
        return copy

    # ------------------------------------------------------------------ searching
    def locate(self, region: Region | Mapping[str, Any]) -> Place:
        """Where a region is (no request; fails outside the source's extent).

        Args:
            region: the region.
        """
        return locate(Region.coerce(region), resolution=self.options.resolution, margin=self.options.margin,
                      extent=self.extent)

    def search(self, region: Region | Mapping[str, Any]) -> list[NaipItem]:
        """Every item (all years) whose footprint meets the region plus margin.

        Args:
            region: the region.
        """
        return self._search(self.locate(region))

    def _search(self, place: Place) -> list[NaipItem]:
        import shapely

        polygon = json.loads(shapely.to_geojson(place.to_wgs84(place.search_area)))
        limit = self.options.max_items * 8
        raw = self.catalog.items(polygon, limit=limit + 1)
        if len(raw) > limit:
            raise ConfigError(f"{place.describe()}: more than {limit} catalog items; region too large for one scene")
        items = [NaipItem.from_stac(r, asset=self.asset) for r in raw]
        items.sort(key=lambda i: (-i.year, i.id))
        log.info("%s: %d item(s) for %s (years %s)", self.name, len(items), place.describe(),
                 ", ".join(str(y) for y in sorted({i.year for i in items}, reverse=True)) or "none")
        return items

    def available_years(self, region: Region | Mapping[str, Any]) -> list[int]:
        """Years with at least one item meeting the region (newest first).

        Args:
            region: the region.
        """
        return sorted({i.year for i in self.search(region)}, reverse=True)

    def select(self, region: Region | Mapping[str, Any], items: list[NaipItem] | None = None) -> Selection:
        """The items :meth:`for_region` would read, by footprint (the year policy applied; no pixel read).

        Args:
            region: the region.
            items: the items :meth:`search` returned for it (searched again if not given).
        """
        place = self.locate(region)
        return self._select(place, self._search(place) if items is None else items, ())

    def _select(self, place: Place, items: list[NaipItem], skipped: tuple[tuple[str, str], ...]) -> Selection:
        o = self.options
        selection = select_items(items, place, year=o.year, allow_mixed_years=o.allow_mixed_years,
                                 allow_partial=o.allow_partial, skipped=skipped)
        if len(selection.items) > o.max_items:
            raise ConfigError(f"{place.describe()}: needs {len(selection.items)} items (max_items "
                              f"{o.max_items}); region too large for one scene")
        return selection

    # ------------------------------------------------------------------ fetching
    def cache_key(self, region: Region | Mapping[str, Any]) -> str:
        """The cache key of a request: source, region, and every option that changes the bytes.

        Args:
            region: the region.
        """
        request = {"source": self.name, "catalog": self.catalog.location, "collection": self.catalog.collection,
                   "asset": self.asset, "access": self.access.name,
                   "region": Region.coerce(region).model_dump(mode="json"),
                   "options": dataclasses.asdict(self.options), "mosaic": MOSAIC_VERSION}
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:32]

    @property
    def cache_root(self) -> Path:
        """The folder scenes are cached in."""
        return self._cache if self._cache is not None else cache_dir() / "imagery"

    def for_region(self, region: Region | Mapping[str, Any] | None = None, *,
                   center: tuple[float, float] | None = None, region_size: int = 1024,
                   bbox: tuple[float, float, float, float] | None = None, geometry: Any = None,
                   crs: str | None = None, refresh: bool = False, max_age: float | None = None,
                   progress: bool = True) -> ImageryScene:
        """A local scene of the region on the tutorial's grid: fetched once, then served from the cache.

        Give the region as a :class:`~landcover_sdk.Region` (or mapping), or as ``center`` +
        ``region_size``, ``bbox`` or ``geometry`` (+ ``crs``, default WGS84).

        Args:
            region: the region.
            center: ``(lat, lon)`` of the tutorial's square.
            region_size: its side in pixels (a multiple of 128).
            bbox: ``(west, south, east, north)`` in ``crs``.
            geometry: a GeoJSON mapping or shapely geometry in ``crs``; pixels outside become class 0.
            crs: CRS of ``bbox``/``geometry``.
            refresh: fetch again even if cached.
            max_age: seconds after which a cached scene is fetched again.
            progress: show a progress bar on a terminal.

        Raises:
            NoCoverageError: nothing (or not the asked year) covers the region.
            CatalogError: the catalog is unreachable or answers nonsense.
            ImageryAccessError: the imagery refuses to be read (expired SAS, missing credentials).
            InvalidRasterError: an item's image is not 4-band uint8.
        """
        reg = wgs84_default(_region(region, center=center, region_size=region_size, bbox=bbox, geometry=geometry,
                                    crs=crs))
        place = self.locate(reg)  # outside the extent: fails before any request
        key = self.cache_key(reg)
        entry = self.cache_root / key
        entry.parent.mkdir(parents=True, exist_ok=True)
        # one process (and thread) at a time builds a cache entry; the others then find it built
        with flock(self.cache_root / f"{key}.lock"):
            if not refresh:
                cached = _load(entry, reg, max_age)
                if cached is not None:
                    log.info("%s: cached scene %s", place.describe(), cached.path)
                    return cached
            return self._fetch(place, entry, progress)

    def fetch(self, region: Region | Mapping[str, Any], out: str | Path, **kwargs: Any) -> ImageryScene:
        """:meth:`for_region`, then copy the scene to ``out`` with ``<stem>.scene.json`` beside it.

        Local files are written atomically; a storage URL (``az://container/scene.tif``) is
        uploaded, its container checked before anything is fetched.

        Args:
            region: the region.
            out: the GeoTIFF to write (path or storage URL).
            **kwargs: :meth:`for_region` options (``refresh``, ``progress``).
        """
        if is_remote(out):
            store = get_storage(str(out))
            store.check_container(str(out))
            scene = self.for_region(region, **kwargs)
            meta_url = scene_json_name(str(out))
            with tempfile.TemporaryDirectory(prefix="lc-scene-") as tmp:
                meta = Path(tmp) / "scene.json"
                meta.write_text(json.dumps({**scene.provenance, "file": str(out).rsplit("/", 1)[-1]}, indent=2))
                store.upload(scene.path, str(out))
                store.upload(meta, meta_url)
            return scene
        target = Path(out)
        if not target.parent.is_dir():
            raise StorageError(f"{target}: output folder {target.parent} does not exist")
        scene = self.for_region(region, **kwargs)
        meta_path = Path(scene_json_name(str(target)))
        with atomic_output(target) as tmp_path:
            shutil.copyfile(scene.path, tmp_path)
        atomic_write_text(meta_path, json.dumps({**scene.provenance, "file": target.name}, indent=2) + "\n")
        return dataclasses.replace(scene, path=target, metadata_path=meta_path)

    def _fetch(self, place: Place, entry: Path, progress: bool) -> ImageryScene:
        t0 = time.perf_counter()
        self.access.check([])  # credentials that can never work: refused before the catalog is asked
        items = self._search(place)
        skipped: tuple[tuple[str, str], ...] = ()
        with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lc-imagery") as pool:
            while True:
                selection = self._select(place, items, skipped)
                self.access.check([i.href for i in selection.items])
                readers = [ItemReader(i, self.access) for i in selection.items]
                headers: list[ItemHeader] = []
                bad: tuple[str, str] | None = None
                for reader in readers:
                    try:
                        headers.append(pool.submit(reader.header).result())
                    except InvalidRasterError as exc:
                        if self.options.year is not None or "bands" not in exc.problem:
                            raise
                        bad = (reader.item.id, exc.problem)
                        break
                if bad is None:
                    break
                log.info("%s: skipped (%s); choosing again", *bad)
                skipped = (*skipped, bad)
            grid = plan_grid(place, headers[0].crs, headers[0].transform, resolution=self.options.resolution,
                             margin=self.options.margin)
            resampling = Resampling[self.options.resampling] if self.options.resampling else \
                default_resampling(headers, self.options.resolution)
            parts = [(r, h, _footprint(h, grid)) for r, h in zip(readers, headers, strict=True)]
            stats = MosaicStats()
            entry.mkdir(parents=True, exist_ok=True)
            tif = entry / "scene.tif"
            log.info("%s: %dx%d px scene in %s from %d item(s): %s", place.describe(), grid.height, grid.width,
                     grid.crs.to_string(), len(readers), ", ".join(i.id for i in selection.items))
            with GeoTiffWriter(tif, width=grid.width, height=grid.height, count=4, dtype="uint8", crs=grid.crs,
                               transform=grid.transform, nodata=0, band_descriptions=BAND_NAMES) as writer:
                blocks = _blocks(grid)
                with progress_bar(len(blocks), enabled=progress, desc="imagery", unit="block") as bar:
                    ahead: collections.deque[tuple[PixelWindow, cf.Future[Any]]] = collections.deque()
                    for win in blocks:
                        ahead.append((win, pool.submit(mosaic_block, grid, parts, resampling, stats, win)))
                        if len(ahead) > 1:
                            done, fut = ahead.popleft()
                            writer.write(fut.result(), done)
                            bar.update(1)
                    while ahead:
                        done, fut = ahead.popleft()
                        writer.write(fut.result(), done)
                        bar.update(1)
                inner_px = grid.inner.height * grid.inner.width
                if stats.inner_valid < inner_px and not self.options.allow_partial:
                    raise NoCoverageError(
                        f"{place.describe()}: only {stats.inner_valid / inner_px:.2%} of the region has NAIP pixels "
                        f"in {', '.join(map(str, selection.years))} (footprints promised more); allow_partial "
                        "(--allow-partial) keeps the rest as no data")
        provenance = self._provenance(place, grid, selection, readers, headers, stats, resampling, tif)
        atomic_write_text(entry / "scene.json", json.dumps(provenance, indent=2) + "\n")
        seconds = time.perf_counter() - t0
        log.info("%s: scene ready in %.1fs (%.2f Mpx/s), %d read(s), %d renewal(s)", place.describe(), seconds,
                 grid.height * grid.width / 1e6 / max(seconds, 1e-9), stats.reads, stats.retries)
        return ImageryScene(tif, place.region, grid.inner, selection.items, provenance, entry / "scene.json")

    def _provenance(self, place: Place, grid: TargetGrid, selection: Selection, readers: list[ItemReader],
                    headers: list[ItemHeader], stats: MosaicStats, resampling: Resampling,
                    tif: Path) -> dict[str, Any]:
        total = grid.height * grid.width
        stats.retries = sum(r.retries for r in readers)
        years: dict[str, float] = {}
        items = []
        for item, head in zip(selection.items, headers, strict=True):
            share = stats.pixels.get(item.id, 0) / total
            years[str(item.year)] = years.get(str(item.year), 0.0) + share
            items.append({"id": item.id, "year": item.year, "state": item.state, "gsd": item.gsd,
                          "crs": head.crs.to_string(), "resolution": head.res, "datetime": item.datetime,
                          "href": public_href(item.href), "self_href": item.self_href,
                          "collection": item.collection, "footprint": item.footprint,
                          "pixel_fraction": round(share, 6)})
        return {
            "format": SCENE_FORMAT,
            "software": f"landcover-sdk {__version__}",
            "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {"name": self.name, "catalog": self.catalog.location, "collection": self.catalog.collection,
                       "asset": self.asset, "access": self.access.name},
            "region": place.region.model_dump(mode="json"),
            "options": dataclasses.asdict(self.options),
            "resampling": resampling.name,
            "grid": grid.to_dict(),
            "items": items,
            "years": {k: round(v, 6) for k, v in years.items()},
            "coverage": {"region": round(stats.inner_valid / (grid.inner.height * grid.inner.width), 6),
                         "scene": round(stats.valid / total, 6)},
            "skipped": [{"id": i, "reason": r} for i, r in selection.skipped],
            "sha256": sha256_file(tif),
            "bytes": tif.stat().st_size,
        }


def wgs84_default(region: Region) -> Region:
    """``region`` with its CRS made explicit: bounds and geometries without one are WGS84 for a catalog.

    (On a raster a missing CRS means the raster's own; a fetched scene's CRS is not known in advance.)

    Args:
        region: the region.
    """
    if region.kind in ("bounds", "geometry") and region.crs is None:
        return region.model_copy(update={"crs": "EPSG:4326"})
    return region


def scene_json_name(out: str) -> str:
    """Where :meth:`NaipSource.fetch` puts the provenance: ``scene.tif`` → ``scene.scene.json``.

    Args:
        out: the scene's path or storage URL.
    """
    for suffix in (".tiff", ".tif", ".TIFF", ".TIF"):
        if out.endswith(suffix):
            return out[: -len(suffix)] + ".scene.json"
    return out + ".scene.json"


def _blocks(grid: TargetGrid) -> list[PixelWindow]:
    from ..data.raster import iter_blocks
    from .mosaic import BLOCK

    return list(iter_blocks(grid.height, grid.width, BLOCK))


def _footprint(head: ItemHeader, grid: TargetGrid) -> Any:
    """The item's raster bounds in the grid's CRS (what its pixels can reach)."""
    import shapely.geometry

    from ..data.geo import reproject_geometry

    left, bottom, right, top = _bounds(head)
    return reproject_geometry(shapely.geometry.box(left, bottom, right, top), head.crs, grid.crs)


def _bounds(head: ItemHeader) -> tuple[float, float, float, float]:
    t = head.transform
    xs = [t.c, t.c + t.a * head.width]
    ys = [t.f, t.f + t.e * head.height]
    return min(xs), min(ys), max(xs), max(ys)


def _region(region: Region | Mapping[str, Any] | None, *, center: tuple[float, float] | None, region_size: int,
            bbox: tuple[float, float, float, float] | None, geometry: Any, crs: str | None) -> Region:
    given = [n for n, v in (("region", region), ("center", center), ("bbox", bbox), ("geometry", geometry))
             if v is not None]
    if len(given) != 1:
        raise ConfigError("give the place one way: region, center (+ region_size), bbox or geometry"
                          + (f", not {' and '.join(given)}" if given else ""))
    if region is not None:
        return Region.coerce(region)
    if center is not None:
        return Region.around(center[0], center[1], region_size)
    if bbox is not None:
        return Region.from_bounds(bbox, crs or "EPSG:4326")
    return Region.from_geometry(geometry, crs or "EPSG:4326")


def _load(entry: Path, region: Region, max_age: float | None) -> ImageryScene | None:
    meta, tif = entry / "scene.json", entry / "scene.tif"
    if not meta.is_file() or not tif.is_file():
        return None
    try:
        provenance = json.loads(meta.read_text())
        fetched = dt.datetime.fromisoformat(provenance["fetched_at"]).timestamp()
        inner = PixelWindow(*provenance["grid"]["inner_window"])
        items = tuple(_item_from_provenance(i) for i in provenance["items"])
    except (ValueError, KeyError, TypeError):
        log.warning("%s: unreadable scene.json; fetching again", entry)
        return None
    if max_age is not None and time.time() - fetched > max_age:
        log.info("%s: cached scene older than %.0f s; fetching again", entry, max_age)
        return None
    if tif.stat().st_size != provenance.get("bytes") or sha256_file(tif) != provenance.get("sha256"):
        log.warning("%s: cached scene damaged (size or hash differs); fetching again", entry)
        return None
    return ImageryScene(tif, region, inner, items, provenance, meta)


def _item_from_provenance(data: dict[str, Any]) -> NaipItem:
    return NaipItem(id=data["id"], year=int(data["year"]), state=data.get("state"), gsd=data.get("gsd"),
                    crs=data.get("crs"), footprint=data["footprint"], href=data["href"], bands=4,
                    datetime=data.get("datetime"),
                    self_href=data.get("self_href"), collection=data.get("collection"))


# The built-in named sources (the table's entries, in imagery.names). A new named catalog is one line here, or a
# register_source call / ``landcover_sdk.imagery`` entry point in its own package.
register_source("planetary-computer", NaipSource.from_planetary_computer, "Microsoft's Planetary Computer")
register_source("pc", NaipSource.from_planetary_computer, "Microsoft's Planetary Computer", listed=False)
register_source("earth-search", NaipSource.from_earth_search, "Element 84's Earth Search (requester pays)")


__all__ = ["SOURCE_PREFIX", "SPEC_PREFIX", "FetchOptions", "ImageryScene", "NaipSource", "is_source_name", "is_spec",
           "parse_source_name", "parse_spec"]
