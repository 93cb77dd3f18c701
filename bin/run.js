#!/usr/bin/env node
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
// For bench/run.ts: this process's own peak memory (its children, such as the embedded emulator, apart).
if (process.env.ADSYNC_BENCH_RUSAGE) process.stderr.write(`ADSYNC_RUSAGE ${process.resourceUsage().maxRSS}\n`);
// A CLI ends when its command does: no stray handle (a socket, a timer) may keep a pipeline step waiting.
// Output is already written: stdout and stderr to pipes and files are synchronous on Linux and macOS.
process.exit(process.exitCode ?? 0);
