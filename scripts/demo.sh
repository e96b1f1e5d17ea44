#!/usr/bin/env bash
# README "command 1": installs what is missing (fast when cached), then runs the control plane on
# deploy/examples/ with two demo upstreams and a real Envoy ambassador. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
exec node control-plane/src/demo/main.ts "$@"
