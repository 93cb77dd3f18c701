/**
 * Installable outside a clone (issue 14): `npm pack` builds (prepack), writes the oclif manifest, ships the
 * code, the schemas and a LICENSE but no source maps; a global install of the tarball into a temporary
 * prefix runs `adsync --version` and validates the quickstart spec. (The install fetches the dependencies
 * from npm's cache or the registry.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// npm and the installed bin (`#!/usr/bin/env node`) run on this Node (the repo's), not an older system one.
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  NO_COLOR: '1',
};
const run = (cmd: string, args: string[], cwd: string) =>
  spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });

describe('npm pack and a global install', () => {
  let tmp: string;
  let tarball: string;
  // npm pack builds (prepack): in a copy of the package's inputs, so the suite's own dist/ is never rewritten
  // under the tests running beside this one.
  let stage: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'adsync-pack-'));
    stage = join(tmp, 'adsync');
    for (const f of ['package.json', 'tsconfig.json', 'LICENSE', 'README.md', 'bin', 'schemas', 'scripts', 'src'])
      await cp(join(root, f), join(stage, f), { recursive: true });
    await symlink(join(root, 'node_modules'), join(stage, 'node_modules'));
  });
  after(async () => rm(tmp, { recursive: true, force: true }));

  it('npm pack: prepack builds and writes the manifest; code, schemas and LICENSE, no source maps', async () => {
    const r = run('npm', ['pack', '--json', '--pack-destination', tmp], stage);
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(tmp, info!.filename);
    const files = info!.files.map((f) => f.path);
    for (const f of [
      'LICENSE',
      'README.md',
      'bin/run.js',
      'oclif.manifest.json',
      'dist/src/commands/plan.js',
      'dist/src/commands/apply.js',
      'schemas/plan.schema.json',
      'schemas/adsync.schema.json',
    ]) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map') || f.startsWith('dist/test') || f.startsWith('src/')),
      [],
      'no maps, tests or sources',
    );
    const manifest = JSON.parse(run('tar', ['xzf', tarball, '-O', 'package/oclif.manifest.json'], tmp).stdout) as {
      version: string;
      commands: Record<string, unknown>;
    };
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(manifest.version, pkg.version);
    assert.deepEqual(Object.keys(manifest.commands).sort(), [
      'apply',
      'doctor',
      'emulator',
      'explain',
      'plan',
      'unlock',
      'validate',
    ]);
    assert.equal(existsSync(join(stage, 'oclif.manifest.json')), false, 'postpack removes it from the work tree');
  });

  it('npm install -g --prefix TMP ./adsync-0.1.0.tgz: adsync --version and validate run', () => {
    const prefix = join(tmp, 'prefix');
    const install = run(
      'npm',
      ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'],
      tmp,
    );
    assert.equal(install.status, 0, install.stderr);
    const bin = join(prefix, 'bin', 'adsync');
    const version = run(bin, ['--version'], tmp);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^adsync\/0\.1\.0 /);
    assert.doesNotMatch(version.stderr, /Mismatched version|manifest/i);
    const validate = run(bin, ['validate', '-c', join(root, 'examples/quickstart/adsync.yaml')], tmp);
    assert.equal(validate.status, 0, validate.stderr);
  });
});
