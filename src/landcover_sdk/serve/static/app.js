// landcover serve: three synced Leaflet maps (imagery, soft, hard), legend, hover read-out, URL hash state.
// window.lcStatus[pane] = {pending, loaded, errors, aborted} lets scripts wait for tiles without sleeping.
"use strict";

(async function () {
  const info = await (await fetch("api/info")).json();
  const panes = ["naip", "soft", "hard"];
  const status = {};
  window.lcStatus = status;
  window.lcMaps = {};
  window.lcInfo = info;
  document.getElementById("source").textContent =
    `${info.source.split("/").pop()} · ${info.mode} mode · model ${info.model.slice(0, 12)}`;

  const legend = document.getElementById("legend");
  for (const c of info.classes) {
    const li = document.createElement("li");
    li.dataset.classId = c.id;
    li.innerHTML = `<span style="background:${c.color}"></span>${c.id} ${c.name}`;
    legend.appendChild(li);
  }

  const fromHash = () => {
    const m = /^#(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(window.location.hash);
    return m ? { zoom: +m[1], center: [+m[2], +m[3]] } : null;
  };
  const start = fromHash() || { zoom: info.native_zoom, center: info.center };
  const bounds = L.latLngBounds([info.bounds[1], info.bounds[0]], [info.bounds[3], info.bounds[2]]);
  const animate = !navigator.webdriver;  // tests compare pixels: no fades or zoom animations
  let syncing = false;

  for (const pane of panes) {
    const map = L.map(`map-${pane}`, {
      center: start.center, zoom: start.zoom, minZoom: Math.max(0, info.min_zoom - 4), maxZoom: info.max_zoom,
      fadeAnimation: animate, zoomAnimation: animate, markerZoomAnimation: animate, attributionControl: false,
    });
    window.lcMaps[pane] = map;
    const s = (status[pane] = { pending: 0, loaded: 0, errors: 0, aborted: 0 });
    const layer = L.tileLayer(`tiles/${pane}/{z}/{x}/{y}.png`, {
      tileSize: 256, maxZoom: info.max_zoom, maxNativeZoom: info.max_zoom, bounds: bounds,
      keepBuffer: 1, updateWhenZooming: false,
    });
    const spinner = document.querySelector(`.pane[data-layer="${pane}"] .loading`);
    const show = () => { spinner.hidden = s.pending === 0; };
    layer.on("tileloadstart", () => { s.pending += 1; show(); });
    layer.on("tileload", () => { s.pending -= 1; s.loaded += 1; show(); });
    layer.on("tileerror", (e) => {
      s.pending -= 1;
      // 204 (outside the raster) reaches an <img> as an error: count only real failures
      if (e.tile && e.tile.src) fetch(e.tile.src).then((r) => { if (!r.ok) s.errors += 1; });
      show();
    });
    layer.on("tileabort", () => { s.pending -= 1; s.aborted += 1; show(); });
    layer.addTo(map);
    map.lcLayer = layer;
  }

  // Overlay of the classes on the imagery pane, with an opacity slider.
  const overlay = L.tileLayer("tiles/hard/{z}/{x}/{y}.png", { bounds: bounds, maxZoom: info.max_zoom, opacity: 0.6 });
  document.getElementById("overlay").addEventListener("change", (e) => {
    if (e.target.checked) overlay.addTo(window.lcMaps.naip); else overlay.remove();
  });
  document.getElementById("opacity").addEventListener("input", (e) => overlay.setOpacity(e.target.value / 100));

  // Sync: any map that moves moves the others, without re-entering.
  const follow = (source) => () => {
    if (syncing) return;
    syncing = true;
    const center = source.getCenter(), zoom = source.getZoom();
    for (const pane of panes) {
      const other = window.lcMaps[pane];
      if (other !== source) other.setView(center, zoom, { animate: false });
    }
    syncing = false;
    const c = source.getCenter();
    history.replaceState(null, "", `#${zoom}/${c.lat.toFixed(6)}/${c.lng.toFixed(6)}`);
    updateView(source);
  };
  for (const pane of panes) window.lcMaps[pane].on("moveend", follow(window.lcMaps[pane]));

  // Hover read-out from api/point (one request in flight at a time). Every URL here is relative to the
  // page, which may be one of several models served side by side under /{name}/.
  const readout = document.getElementById("readout");
  let asking = false;
  for (const pane of panes) {
    window.lcMaps[pane].on("mousemove", async (e) => {
      if (asking) return;
      asking = true;
      try {
        const r = await fetch(`api/point?lon=${e.latlng.lng}&lat=${e.latlng.lat}`);
        if (r.ok) {
          const p = await r.json();
          const best = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]);
          readout.textContent = best.slice(0, 3).map(([n, v]) => `${n} ${(100 * v).toFixed(1)} %`).join(" · ");
        } else {
          readout.textContent = "outside the imagery";
        }
      } finally { asking = false; }
    });
  }

  // Class shares of the view (from what is already computed) and the export link.
  const shares = document.getElementById("shares");
  const exportLink = document.getElementById("export");
  async function updateView(map) {
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    exportLink.href = `api/export?bbox=${bbox}`;
    const r = await fetch(`api/stats?bbox=${bbox}`);
    if (!r.ok) { shares.textContent = ""; return; }
    const s = await r.json();
    shares.textContent = s.coverage > 0
      ? "in view: " + s.classes.filter((c) => c.share > 0.005).map((c) => `${c.name} ${(100 * c.share).toFixed(0)} %`).join(", ")
      : "";
  }
  // Class shares once the view's predictions have arrived (they come from the cache, no new work).
  window.lcMaps.hard.lcLayer.on("load", () => updateView(window.lcMaps.hard));
  window.addEventListener("hashchange", () => {
    const h = fromHash();
    if (h) window.lcMaps.naip.setView(h.center, h.zoom, { animate: false });
  });
  window.lcReady = true;
})();
