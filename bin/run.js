#!/usr/bin/env node
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
// A CLI ends when its command does: no stray handle (a socket, a timer) may keep a pipeline step waiting.
// Output is already written: stdout and stderr to pipes and files are synchronous on Linux and macOS.
process.exit(process.exitCode ?? 0);
