#!/usr/bin/env bash
# Refresh the vendored Leaflet of `landcover serve` from its npm package (run by hand; CI uses the copy).
set -euo pipefail
version="${1:-1.9.4}"
dest="$(cd "$(dirname "$0")/.." && pwd)/src/landcover_sdk/serve/static/vendor/leaflet"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "leaflet@$version" --silent >/dev/null && tar xzf "leaflet-$version.tgz")
rm -rf "$dest" && mkdir -p "$dest/images"
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$dest/"
cp "$tmp/package/dist/images/"*.png "$dest/images/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "leaflet $version from the npm package (dist/leaflet.js, dist/leaflet.css, dist/images, LICENSE); refresh with tools/vendor_leaflet.sh" > "$dest/VERSION"
echo "vendored leaflet $version into $dest"
