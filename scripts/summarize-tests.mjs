// Turns vitest's JSON report into the closing line of scripts/test.sh:
//   N passed, N failed[, N skipped]
// Usage: node scripts/summarize-tests.mjs REPORT.json [VITEST_EXIT_CODE]
// Exit code 0 only when at least one test ran, none failed, no test file failed to load, and
// vitest itself exited 0 (it exits non-zero on unhandled errors even when every test passed).
import { readFileSync } from 'node:fs';

const [reportPath, vitestExitArg = '0'] = process.argv.slice(2);
const vitestExit = Number(vitestExitArg);

if (!reportPath) {
  console.error('usage: node scripts/summarize-tests.mjs REPORT.json [VITEST_EXIT_CODE]');
  process.exit(2);
}

let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (error) {
  console.log(`vitest crashed (exit code ${vitestExitArg}): no readable JSON report (${error.code ?? error.message})`);
  process.exit(1);
}

let passed = 0;
let failed = 0;
let skipped = 0;
let fileErrors = 0;
for (const file of report.testResults ?? []) {
  let failedHere = 0;
  for (const test of file.assertionResults ?? []) {
    if (test.status === 'passed') passed += 1;
    else if (test.status === 'failed') failedHere += 1;
    else skipped += 1; // skipped, pending, todo, disabled
  }
  failed += failedHere;
  // A file that failed without a failing test (import error, failing beforeAll/afterAll) counts once.
  if (file.status === 'failed' && failedHere === 0) {
    fileErrors += 1;
    const where = file.name ?? 'a test file';
    const why = String(file.message ?? '').split('\n')[0] ?? '';
    console.log(`test file failed: ${where}${why ? `: ${why}` : ''}`);
  }
}
failed += fileErrors;

let ok = failed === 0;
if (passed + failed === 0) {
  console.log('no test ran');
  ok = false;
}
if (ok && vitestExit !== 0) {
  console.log(`vitest exited with code ${vitestExit} although no test failed (unhandled error? see above)`);
  ok = false;
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
