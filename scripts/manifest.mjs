#!/usr/bin/env node
/**
 * Writes oclif.manifest.json (what `oclif manifest` writes) with @oclif/core alone: the commands' ids, flags,
 * args and help, so a command starts without importing every command file (about 1 s per start). Run by every
 * build (so the test suite's hundreds of CLI starts use it, and `prepack`'s build ships it); `postpack` removes it
 * from the work tree again.
 */
import { writeFileSync } from 'node:fs';
import { Plugin } from '@oclif/core';

const root = new URL('..', import.meta.url).pathname;
const plugin = new Plugin({
  root,
  type: 'core',
  isRoot: true,
  ignoreManifest: true,
  errorOnManifestCreate: true,
  respectNoCacheDefault: true,
});
await plugin.load();
const commands = Object.keys(plugin.manifest.commands);
if (commands.length === 0) throw new Error('no commands found: build first (npm run build)');
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
process.stdout.write(
  `oclif.manifest.json: ${commands.length} commands (${commands.sort().join(', ')}), version ${plugin.manifest.version}\n`,
);
