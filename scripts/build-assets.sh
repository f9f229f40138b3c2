#!/usr/bin/env bash
# Builds the pages' browser assets: installs package.json's packages from the npm registry
# (exactly the versions of the committed package-lock.json, `npm ci`) and copies the files the
# pages load into outage_notify/web/static/vendor/ (git-ignored). The pages are served from
# there: no CDN at run time, so the map works on a machine with no internet.
#
# Offline-tolerant: `npm ci` is skipped while node_modules/ was installed from the same
# package-lock.json (a stamp there holds its checksum), so a rebuild needs no registry.
# Node.js and npm come from Debian (scripts/system-deps.sh node) when missing.
#
#   VENDOR=DIR  copy into DIR instead (the image build does)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="${VENDOR:-$ROOT/outage_notify/web/static/vendor}"
MODULES="$ROOT/node_modules"
LOCK_STAMP="$MODULES/.outage-notify-lock.sha256"

say() { printf 'build-assets: %s\n' "$*" >&2; }

cd "$ROOT"
if ! command -v npm >/dev/null 2>&1; then
  bash "$ROOT/scripts/system-deps.sh" node
fi

lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$LOCK_STAMP" ] && [ "$(cat "$LOCK_STAMP")" = "$lock_sum" ]; then
  say "node_modules/ is current with package-lock.json: npm ci skipped"
else
  say "npm ci (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$lock_sum" >"$LOCK_STAMP"
fi

# What the pages load, with each package's licence beside its files.
# leaflet: the map; leaflet-geoman: drawing and editing areas (the operator console).
# axe-core is a test asset: the browser tests inject node_modules/axe-core/axe.min.js.
copy() {  # copy PACKAGE DEST FILE...
  local package="$1" dest="$VENDOR/$2" file
  shift 2
  mkdir -p "$dest"
  for file in "$@"; do
    cp -R "$MODULES/$package/$file" "$dest/"
  done
  cp "$MODULES/$package/LICENSE" "$dest/LICENSE"
}

tmp="$VENDOR.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
final="$VENDOR"
VENDOR="$tmp"
copy leaflet leaflet dist/leaflet.js dist/leaflet.css dist/images
copy @geoman-io/leaflet-geoman-free leaflet-geoman dist/leaflet-geoman.js dist/leaflet-geoman.css
# Swapped in whole, so a server never sees a half-copied folder.
rm -rf "$final"
mv "$tmp" "$final"
touch "$final/.built"
say "vendor files in ${final#"$ROOT"/}: $(cd "$final" && find . -type f | wc -l) files"
