#!/bin/sh
# Writes the config that Faultline rendered (FAULTLINE_CONFIG) to FAULTLINE_CONFIG_PATH,
# then runs the service. Keeping configs out of the images lets one image serve any topology.
set -eu
if [ -n "${FAULTLINE_CONFIG_PATH:-}" ]; then
  mkdir -p "$(dirname "$FAULTLINE_CONFIG_PATH")"
  printf '%s\n' "${FAULTLINE_CONFIG:-}" > "$FAULTLINE_CONFIG_PATH"
fi
exec "$@"
