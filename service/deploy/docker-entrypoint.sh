#!/bin/sh
# tierlift container entrypoint.
#   no arguments or options only -> tierlift run --config $TIERLIFT_CONFIG [options]
#   anything else               -> run that command (e.g. "tierlift check --config ...")
set -eu
if [ "$(id -u)" = "0" ] && [ "${TIERLIFT_ALLOW_ROOT:-0}" != "1" ]; then
  echo "tierlift: refusing to run as root; run as the image's user (uid 10001) or set TIERLIFT_ALLOW_ROOT=1" >&2
  exit 1
fi
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  exec tierlift run --config "${TIERLIFT_CONFIG:-/etc/tierlift/tierlift.yaml}" "$@"
fi
exec "$@"
