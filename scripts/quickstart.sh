#!/usr/bin/env bash
# The README's first command: prepare this machine (scripts/setup.sh, idempotent), then run
# the default experiment on the built-in PoP replica. Extra arguments go to `faultline run`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec node bin/run.js run experiments/edge-latency.yaml "$@"
