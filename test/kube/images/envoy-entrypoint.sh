#!/bin/sh
# As envoyproxy/envoy's image does: arguments that start with "-" are Envoy's, so
# `args: [-c, /etc/envoy/envoy.yaml]` runs `envoy -c /etc/envoy/envoy.yaml`; anything else runs as is.
case "${1:-}" in
  -*) set -- envoy "$@" ;;
esac
exec "$@"
