#!/usr/bin/env bash
# Host setup for Faultline: Docker engine, base image, pinned Go tools, replica images,
# npm packages, the compiled CLI, and the test tools (Chromium, tmux, docker-compose).
# Idempotent: every step is skipped when its result is already there, so a second run takes
# seconds.
#
# Exit codes: 0 ready, 4 environment problem (message says what to install).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${FAULTLINE_TOOLS_DIR:-$ROOT/.tools}"
BASE_IMAGE="${FAULTLINE_BASE_IMAGE:-debian:bookworm-slim}"
TOXIPROXY_VERSION="2.12.0"
TEMPORAL_VERSION="1.5.1"
ENGINE_MARKER="/var/run/faultline-dockerd.pid"
export PATH="/usr/local/go/bin:$PATH"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf '[setup] try this: %s\n' "$2" >&2; exit 4; }
is_root() { [ "$(id -u)" = "0" ]; }
is_debian() { [ -f /etc/debian_version ]; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for_docker() {
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then log "docker engine: running"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    if is_root && is_debian; then
      log "docker engine: installing docker.io from Debian's packages"
      apt_install docker.io iptables
    else
      die "no Docker engine is reachable and this script can only install one on Debian as root" \
        "install Docker Engine (https://docs.docker.com/engine/install/) and start it, then re-run"
    fi
  fi
  if ! command -v docker >/dev/null 2>&1; then
    die "the docker client is missing" "install the docker CLI (Debian: apt-get install docker.io)"
  fi
  if is_root; then
    log "docker engine: starting dockerd (log: /var/log/dockerd.log)"
    # setsid detaches the daemon from this script's process group so CI's job control
    # and a Ctrl-C of the setup do not take the engine down with it.
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
    wait_for_docker || die "dockerd did not answer within 60s" "read /var/log/dockerd.log"
    # Marks the engine as Faultline's own: the reliability harness restarts only an engine
    # this script started (tests/support/engine.ts).
    cp /var/run/docker.pid "$ENGINE_MARKER"
  else
    die "dockerd is installed but not running, and only root can start it here" "start the Docker service (e.g. sudo systemctl start docker)"
  fi
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then log "base image $BASE_IMAGE: present"; return; fi
  log "base image $BASE_IMAGE: trying to pull"
  if timeout 120 docker pull "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  is_root && is_debian || die "cannot pull $BASE_IMAGE and cannot build it here" "docker pull $BASE_IMAGE on a machine with registry access"
  log "base image: no registry reachable, building it from a debootstrap root filesystem (about a minute)"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local rootfs; rootfs="$(mktemp -d /tmp/faultline-rootfs.XXXXXX)"
  if ! debootstrap --variant=minbase bookworm "$rootfs" >/tmp/faultline-debootstrap.log 2>&1; then
    rm -rf "$rootfs"; die "debootstrap failed" "read /tmp/faultline-debootstrap.log"
  fi
  # Keep images small the way the official slim image does.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "base image $BASE_IMAGE: imported"
}

go_tool() { # name module version ldflags
  local name="$1" module="$2" version="$3" ldflags="${4:-}"
  local stamp="$TOOLS/bin/.$name.version"
  if [ -x "$TOOLS/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    log "$name $version: present"; return
  fi
  command -v go >/dev/null 2>&1 || die "Go is needed to build $name" "install Go >= 1.22 (Debian: apt-get install golang), or set FAULTLINE_TOXIPROXY_IMAGE to the official image"
  log "$name $version: building with go install (first time takes a minute)"
  mkdir -p "$TOOLS/bin" "$TOOLS/gobin"
  CGO_ENABLED=0 GOBIN="$TOOLS/gobin" GOFLAGS=-buildvcs=false go install -ldflags "-s -w $ldflags" "$module@v$version"
}

ensure_tools() {
  go_tool toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" \
    "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION"
  if [ -x "$TOOLS/gobin/server" ]; then mv "$TOOLS/gobin/server" "$TOOLS/bin/toxiproxy-server"; echo "$TOXIPROXY_VERSION" > "$TOOLS/bin/.toxiproxy-server.version"; fi
  ensure_loadgen
}

ensure_temporal() {
  # The Temporal CLI with its embedded dev server, for the scale-out engine (docs/design.md,
  # issue 17): built only when asked (--temporal; CI does), about 3 to 6 minutes the first time.
  go_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_VERSION"
  if [ -x "$TOOLS/gobin/temporal" ]; then mv "$TOOLS/gobin/temporal" "$TOOLS/bin/temporal"; echo "$TEMPORAL_VERSION" > "$TOOLS/bin/.temporal.version"; fi
}

ensure_loadgen() {
  # The load driver: tools/loadgen on vegeta's library (go.mod pins it), rebuilt when its sources change.
  local src="$ROOT/tools/loadgen" out="$TOOLS/bin/faultline-load" stamp="$TOOLS/bin/.faultline-load.version"
  local hash; hash="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
  if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then log "faultline-load $hash: present"; return; fi
  command -v go >/dev/null 2>&1 || die "Go is needed to build the load driver (tools/loadgen)" "install Go >= 1.22 (Debian: apt-get install golang)"
  log "faultline-load: building tools/loadgen on vegeta's library (first time takes a minute)"
  mkdir -p "$TOOLS/bin"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$out" .)
  echo "$hash" > "$stamp"
}

ensure_images() {
  # docker build's layer cache makes this a few seconds when nothing changed.
  local svc
  for svc in origin edge lb prometheus toxiproxy netfilter dns; do
    local ctx="$ROOT/docker/$svc"
    if [ "$svc" = toxiproxy ] && [ -n "${FAULTLINE_TOXIPROXY_IMAGE:-}" ]; then continue; fi
    if [ "$svc" = toxiproxy ]; then
      install -m 0755 "$TOOLS/bin/toxiproxy-server" "$ctx/toxiproxy-server"
    fi
    log "image faultline/$svc: building (layer cache: seconds when unchanged)"
    local out
    # Output is shown only on failure: without BuildKit every build prints a deprecation banner.
    if ! out="$(docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "faultline/$svc:local" -f "$ctx/Dockerfile" "$ROOT/docker" 2>&1)"; then
      printf '%s\n' "$out" >&2
      die "building image faultline/$svc failed" "read the build output above; \`docker info\` must answer"
    fi
  done
}

ensure_test_tools() {
  # Headless Chromium renders the HTML reports in the tests; tmux drives the terminal view.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  if [ ${#missing[@]} -eq 0 ]; then log "test tools: chromium and tmux present"; return; fi
  if is_root && is_debian; then
    log "test tools: installing ${missing[*]} from Debian's packages"
    apt_install "${missing[@]}"
  else
    log "test tools: ${missing[*]} missing (only the report and terminal tests need them)"
  fi
}

ensure_compose() {
  # The example Compose PoP (examples/compose-pop) and the attach tests start a stack with
  # Debian's docker-compose 1.29 (Compose v2 is not in bookworm).
  if command -v docker-compose >/dev/null 2>&1; then log "docker-compose: present"; return; fi
  if is_root && is_debian; then
    log "docker-compose: installing from Debian's packages"
    apt_install docker-compose
  else
    log "docker-compose: missing (only the attach example and its tests need it: install docker-compose)"
  fi
}

ensure_postgres() {
  # The shared-history tests start a PostgreSQL server of their own (initdb, pg_ctl); runs
  # need none unless given a PostgreSQL URL.
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    log "postgresql: present"; return
  fi
  if is_root && is_debian; then
    log "postgresql: installing from Debian's packages"
    apt_install postgresql
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    ln -sf "$bin/initdb" /usr/local/bin/initdb
    ln -sf "$bin/pg_ctl" /usr/local/bin/pg_ctl
  else
    log "postgresql: missing (only the shared-history tests need it: install postgresql)"
  fi
}

ensure_node() {
  command -v node >/dev/null 2>&1 || die "Node.js is missing" "install Node.js >= 20"
  cd "$ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm packages: installing"
    npm ci --no-audit --no-fund --loglevel=error
  else
    log "npm packages: present"
  fi
  log "compiling the CLI"
  npm run --silent build
}

main() {
  local node=1 temporal=0
  for arg in "$@"; do
    case "$arg" in
      --no-node) node=0 ;;
      --temporal) temporal=1 ;;
      *) die "unknown option $arg" "scripts/setup.sh [--no-node] [--temporal]" ;;
    esac
  done
  ensure_docker
  ensure_base_image
  ensure_tools
  ensure_images
  ensure_test_tools
  ensure_compose
  ensure_postgres
  if [ "$temporal" = 1 ]; then ensure_temporal; fi
  if [ "$node" = 1 ]; then ensure_node; fi
  log "ready"
}

main "$@"
