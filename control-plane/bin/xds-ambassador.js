#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=100
// The Node flags above are the ones to run it with (scripts/xds-ambassador, the image and the tests
// run this file by them), both measured (README, Performance) to cost no CPU a burst of 1,000 syncs
// or connect/disconnect churn could show:
// - V8's young generation capped at 4 MB a semi-space: left to grow to 32 MB a semi-space,
//   start-up and connection bursts keep some 25 MB more resident for good; at 1 MB, an edit's
//   parse and build were interrupted by so many scavenges that its first push took 16-19 ms
//   instead of 13 (idle and per-stream memory measured the same at 1 and 4);
// - the old generation's next collection at twice the live size instead of up to four times:
//   after 1,000 TLS connections came and went it held about 95 MB more than at idle, now about 40.
// Needs Node 24 (it runs TypeScript directly); scripts/xds-ambassador uses the pinned one.
// Plain JavaScript so that, with Node's compile cache (in $NODE_COMPILE_CACHE, else the temp
// folder), a start after the first strips no TypeScript: the type stripper (a WebAssembly module of
// some 20 MB) is then never loaded. A cache that cannot be written costs only that memory.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/cli/main.ts');
