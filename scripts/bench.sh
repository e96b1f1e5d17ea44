#!/usr/bin/env bash
# Runs the benchmarks under test/bench/ (all, or those whose file name contains $1). They print
# numbers and ratios; they assert nothing and are not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
source scripts/env.sh
for f in test/bench/*.bench.ts; do
  [[ -n "${1:-}" && "$f" != *"$1"* ]] && continue
  echo "== $f"
  node "$f"
done
