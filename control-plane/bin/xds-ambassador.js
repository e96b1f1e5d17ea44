#!/usr/bin/env node
// Needs Node 24 (it runs TypeScript directly); scripts/xds-ambassador uses the pinned one.
// Plain JavaScript so that, with Node's compile cache (in $NODE_COMPILE_CACHE, else the temp
// folder), a start after the first strips no TypeScript: the type stripper (a WebAssembly module of
// some 20 MB) is then never loaded. A cache that cannot be written costs only that memory.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/cli/main.ts');
