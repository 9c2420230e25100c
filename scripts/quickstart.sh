#!/usr/bin/env bash
# The README's first command: prepare this machine (scripts/setup.sh, idempotent; with
# --temporal, since the README's second command, the tests, start Temporal's dev server), then
# run the default experiment on the built-in PoP replica. Extra arguments go to `faultline run`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --temporal
cd "$ROOT"
exec node bin/run.js run experiments/edge-latency.yaml "$@"
