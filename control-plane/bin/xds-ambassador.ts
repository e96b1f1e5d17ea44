#!/usr/bin/env node
// Needs Node 24 (it runs TypeScript directly); scripts/xds-ambassador uses the pinned one.
import '../src/cli/main.ts';
