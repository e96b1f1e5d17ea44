#!/usr/bin/env bash
# README "command 2": install/check the toolchain (fast when cached), typecheck, run the whole suite.
# Extra arguments go to vitest, e.g. `scripts/test.sh test/unit` or `scripts/test.sh -t harness`.
# Ends with the line "N passed, N failed[, N skipped]"; exits non-zero on a type error, a failed
# test, no test run at all, or a vitest crash.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

report="$(mktemp -t xds-vitest.XXXXXX)"
trap 'rm -f "$report"' EXIT

# A type error fails the run, but the tests still run so one run shows every problem.
echo "typecheck: tsc -p tsconfig.json"
typecheck_rc=0
node_modules/.bin/tsc -p tsconfig.json || typecheck_rc=$?
if [[ $typecheck_rc -eq 0 ]]; then echo "typecheck: ok"; fi

vitest_rc=0
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || vitest_rc=$?

if [[ $typecheck_rc -ne 0 ]]; then echo "typecheck: FAILED (tsc exit code $typecheck_rc, errors above)"; fi
summary_rc=0
node scripts/summarize-tests.mjs "$report" "$vitest_rc" || summary_rc=$?

if [[ $typecheck_rc -ne 0 || $summary_rc -ne 0 ]]; then exit 1; fi
