#!/usr/bin/env bash
# Runs one README recipe locally: scripts/recipe.sh NAME [--environment ENV]. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
exec node control-plane/src/demo/recipe-main.ts "$@"
