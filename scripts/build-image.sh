#!/usr/bin/env bash
# Builds the outage-notify container image from ./Dockerfile on a machine with no Docker engine
# and no registry for base images (this project's machines), then smoke-tests it.
#
#   1. buildah, podman, runc and debootstrap from Debian, installed if missing (needs root);
#   2. a local base image, Debian bookworm + python3.11, python3-venv, python3-pip and
#      ca-certificates, made with debootstrap and `podman import` (once: reused when present);
#   3. `buildah bud --isolation chroot` with BASE pointed at that base. The host's CA bundle is
#      copied into the context (.image/build-ca.crt, git-ignored) for pip and deleted afterwards;
#   4. a smoke test: run the image, wait for /healthz to answer 200, query /readyz, stop, remove.
#
# Knobs (environment): IMAGE (tag to build), BASE_IMAGE (local base tag), DEBIAN_MIRROR,
# SMOKE_PORT (host port for the smoke test, 18000), SMOKE=0 to skip the smoke test,
# REBUILD_BASE=1 to make the base image again, NO_CACHE=1 to build without cached layers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-localhost/outage-notify:latest}"
BASE_IMAGE="${BASE_IMAGE:-localhost/outage-notify-base:bookworm}"
SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SMOKE_PORT="${SMOKE_PORT:-18000}"
SMOKE="${SMOKE:-1}"
REBUILD_BASE="${REBUILD_BASE:-0}"
NO_CACHE="${NO_CACHE:-0}"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
BUILD_CA="$ROOT/.image/build-ca.crt"

log() { printf '\n==> build-image: %s\n' "$*" >&2; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

ROOTFS=""
CONTAINER=""
cleanup() {
  rm -f "$BUILD_CA"
  rmdir "$ROOT/.image" 2>/dev/null || true
  if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
    rm -rf --one-file-system "$ROOTFS"
  fi
  if [ -n "$CONTAINER" ]; then
    podman rm --force --ignore --volumes "$CONTAINER" >/dev/null 2>&1 || true
    echo "build-image: removed smoke-test container $CONTAINER" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

elapsed() { printf '%ds' "$((SECONDS - $1))"; }

# ---- 1. tools ----------------------------------------------------------------------------------
ensure_tools() {
  local need=() tool
  for tool in buildah podman runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
  done
  if [ ${#need[@]} -eq 0 ]; then
    log "tools present: $(buildah --version), $(podman --version), runc $(runc --version | awk 'NR==1{print $3}')"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}; run as root or: apt-get install -y ${need[*]}"
  log "installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  log "installed: $(buildah --version), $(podman --version)"
}

# ---- 2. local base image -----------------------------------------------------------------------
ensure_base() {
  if [ "$REBUILD_BASE" != 1 ] && podman image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE exists, reusing it (REBUILD_BASE=1 makes it again)"
    return
  fi
  local start=$SECONDS
  ROOTFS="$(mktemp -d /tmp/outage-notify-rootfs.XXXXXX)"
  log "debootstrap $SUITE (minbase + python3.11 python3-venv python3-pip ca-certificates) into $ROOTFS"
  debootstrap --variant=minbase \
    --include=python3.11,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >/tmp/outage-notify-debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/outage-notify-debootstrap.log >&2; die "debootstrap failed (log: /tmp/outage-notify-debootstrap.log)"; }

  # Security updates, so that the base is not just the point release.
  cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $SUITE main
deb $DEBIAN_MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
  log "applying $SUITE-updates and $SUITE-security in the base"
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  if chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
      sh -c 'apt-get update -qq && apt-get -y -qq upgrade' >>/tmp/outage-notify-debootstrap.log 2>&1; then
    :
  else
    log "warning: upgrade in the base failed, keeping the point release (see /tmp/outage-notify-debootstrap.log)"
  fi
  chroot "$ROOTFS" apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/tmp/*
  : >"$ROOTFS/etc/resolv.conf"
  printf 'outage-notify-base\n' >"$ROOTFS/etc/hostname"

  log "podman import -> $BASE_IMAGE"
  tar --numeric-owner --xattrs -C "$ROOTFS" -c . \
    | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap $SUITE minbase + python3.11 python3-venv python3-pip ca-certificates" \
        - "$BASE_IMAGE" >/dev/null
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
  log "base image ready in $(elapsed "$start"): $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
}

# ---- 3. build ----------------------------------------------------------------------------------
# pip inside the build: the host's own index (if it is a network one) goes in as a build
# argument; file:// indexes and find-links of the host do not exist inside and are left out.
pip_build_args() {
  local index extra url keep=()
  index="${PIP_INDEX_URL:-$(pip3 config get global.index-url 2>/dev/null || true)}"
  extra="${PIP_EXTRA_INDEX_URL:-$(pip3 config get global.extra-index-url 2>/dev/null || true)}"
  case "$index" in
    http://* | https://*) PIP_ARGS+=(--build-arg "PIP_INDEX_URL=$index") ;;
  esac
  for url in $extra; do
    case "$url" in http://* | https://*) keep+=("$url") ;; esac
  done
  if [ ${#keep[@]} -gt 0 ]; then
    PIP_ARGS+=(--build-arg "PIP_EXTRA_INDEX_URL=${keep[*]}")
  fi
}

build() {
  local start=$SECONDS
  PIP_ARGS=()
  pip_build_args
  if [ ${#PIP_ARGS[@]} -gt 0 ]; then
    log "pip index for the build: ${PIP_ARGS[*]}"
  else
    log "pip index for the build: pip's default (the host sets no network index of its own)"
  fi
  local cache_args=(--layers)
  [ "$NO_CACHE" = 1 ] && cache_args+=(--no-cache)
  mkdir -p "$ROOT/.image"
  if [ -s "$HOST_CA" ]; then
    cp "$HOST_CA" "$BUILD_CA"
    log "host CA bundle copied to .image/build-ca.crt for this build only"
  fi
  log "buildah bud --isolation chroot --build-arg BASE=$BASE_IMAGE -t $IMAGE"
  buildah bud \
    --isolation chroot \
    --format docker \
    "${cache_args[@]}" \
    --build-arg "BASE=$BASE_IMAGE" \
    "${PIP_ARGS[@]}" \
    -f "$ROOT/Dockerfile" \
    -t "$IMAGE" \
    "$ROOT"
  rm -f "$BUILD_CA"
  rmdir "$ROOT/.image" 2>/dev/null || true
  log "built $IMAGE in $(elapsed "$start")"
}

# ---- 4. smoke test -----------------------------------------------------------------------------
http_status() {
  python3 - "$1" <<'EOF'
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        print(response.status, response.read(300).decode(errors="replace"))
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read(300).decode(errors="replace"))
except OSError as exc:
    print(0, exc)
EOF
}

# podman 4.3 wants systemd to schedule HEALTHCHECK timers and logs an error on every run, stop
# and rm where there is no systemd; the check itself works (`podman healthcheck run`).
pod() {
  podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2 || true)
}

smoke() {
  local start=$SECONDS base="http://127.0.0.1:$SMOKE_PORT" out="" i
  CONTAINER="outage-notify-smoke-$$"
  log "podman run --runtime runc --ulimit nofile=8192:8192 --ulimit nproc=4096:4096 -d -p 127.0.0.1:$SMOKE_PORT:8000 --name $CONTAINER $IMAGE"
  pod run --runtime runc \
    --ulimit nofile=8192:8192 --ulimit nproc=4096:4096 \
    --health-interval disable \
    -d --name "$CONTAINER" -p "127.0.0.1:$SMOKE_PORT:8000" "$IMAGE" >/dev/null

  for i in $(seq 1 90); do
    out="$(http_status "$base/healthz")"
    [ "${out%% *}" = 200 ] && break
    if [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]; then
      podman logs "$CONTAINER" >&2 || true
      die "the container exited before /healthz answered"
    fi
    sleep 1
  done
  if [ "${out%% *}" != 200 ]; then
    podman logs "$CONTAINER" >&2 || true
    die "/healthz did not answer 200 within ${i}s: $out"
  fi
  log "/healthz: $out (after ${i}s)"

  out="$(http_status "$base/readyz")"
  for i in $(seq 1 20); do
    [ "${out%% *}" = 200 ] && break
    sleep 1
    out="$(http_status "$base/readyz")"
  done
  [ "${out%% *}" = 200 ] || { podman logs "$CONTAINER" >&2 || true; die "/readyz: $out"; }
  log "/readyz: $out"

  out="$(http_status "$base/")"
  [ "${out%% *}" = 200 ] || die "GET / (templates under OUTAGE_NOTIFY_HOME): ${out:0:200}"
  log "GET /: 200 (page templates found under /app)"

  out="$(http_status "$base/static/vendor/leaflet/leaflet.js")"
  [ "${out%% *}" = 200 ] || die "the map's files are not in the image (static/vendor/): ${out:0:200}"
  out="$(http_status "$base/map")"
  [ "${out%% *}" = 200 ] || die "GET /map: ${out:0:200}"
  log "GET /map: 200, with its map files (static/vendor/, built in the image's assets stage)"

  log "runs as: $(podman exec "$CONTAINER" id)"
  podman healthcheck run "$CONTAINER" >/dev/null || die "the image's HEALTHCHECK did not pass"
  log "image HEALTHCHECK (python urllib -> /healthz): healthy"

  log "outage-notify demo inside the container (fixtures under /app, database in /data)"
  podman exec "$CONTAINER" outage-notify demo 2>&1 | tail -n 1 | sed -e 's/ Agent key.*//' -e 's/^/    /' >&2
  log "/data holds: $(podman exec "$CONTAINER" ls /data | tr '\n' ' ')"
  podman logs "$CONTAINER" 2>&1 | grep -v systemd | tail -n 3 | sed 's/^/    container: /' >&2

  pod stop --time 10 "$CONTAINER" >/dev/null
  pod rm --volumes "$CONTAINER" >/dev/null
  CONTAINER=""
  log "smoke test passed in $(elapsed "$start"); container stopped and removed"
}

main() {
  local start=$SECONDS
  cd "$ROOT"
  ensure_tools
  ensure_base
  build
  if [ "$SMOKE" = 1 ]; then
    smoke
  fi
  log "done in $(elapsed "$start")"
  podman image inspect --format '    image {{index .RepoTags 0}}  id {{.Id}}  size {{.Size}} bytes' "$IMAGE" >&2
  printf '    base  %s\n    run   podman run --runtime runc --ulimit nofile=8192:8192 --ulimit nproc=4096:4096 -p 8000:8000 -v outage-data:/data %s\n' \
    "$BASE_IMAGE" "$IMAGE" >&2
}

main "$@"
