import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/spec/cli.test.js → the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN = join(ROOT, 'bin', 'run.js');

function adsync(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [RUN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const VALID = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  entra:
    tenantId: { env: AZURE_TENANT_ID }
    credential: { kind: workload-identity }
`;

// Each of the malformations the CLI contract names: syntax, unknown key, wrong type, missing key, duplicate key.
const INVALID = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scop: {}
    anchor: 7
  - ldif: { path: b.ldif }
target:
  emulator: { state: s.json }
  emulator: { state: t.json }
`;

test('adsync validate: exit 0 and a one-line summary for a valid spec', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-cli-'));
  await writeFile(join(dir, 'adsync.yaml'), VALID);
  const r = adsync(['validate'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), './adsync.yaml: valid (1 source, target entra $AZURE_TENANT_ID)');
});

test('adsync validate: exit 1, every problem as FILE:LINE:COL on stderr, paths as given, no stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-cli-'));
  await writeFile(join(dir, 'bad.yaml'), INVALID);
  const r = adsync(['validate', '-c', 'bad.yaml'], dir);
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('bad.yaml:'));
  assert.deepEqual(lines, [
    "bad.yaml:5:5 unknown key 'scop' in sources[0]; did you mean 'scope'?",
    'bad.yaml:6:13 sources[0].anchor must be a string, not the number 7',
    "bad.yaml:7:5 missing required key 'name' in sources[1]",
    "bad.yaml:10:3 duplicate key 'emulator': each key may appear once in a mapping",
  ]);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.equal(r.stdout, '');

  await writeFile(join(dir, 'syntax.yaml'), 'version: 1\nsources: [\n');
  const s = adsync(['validate', '-c', 'syntax.yaml'], dir);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /^syntax\.yaml:\d+:\d+ YAML syntax error: /m);
  assert.doesNotMatch(s.stderr, /^\s+at /m);
});

test('adsync validate --json: the typed result, valid or not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-cli-'));
  await writeFile(join(dir, 'bad.yaml'), INVALID);
  await writeFile(join(dir, 'good.yaml'), VALID);
  const bad = adsync(['validate', '-c', 'bad.yaml', '--json'], dir);
  assert.equal(bad.code, 1);
  const result = JSON.parse(bad.stdout) as {
    valid: boolean;
    file: string;
    problems: { file: string; line: number; col: number; message: string }[];
  };
  assert.equal(result.valid, false);
  assert.equal(result.file, 'bad.yaml');
  assert.equal(result.problems.length, 4);
  assert.deepEqual(result.problems[0], {
    file: 'bad.yaml',
    line: 5,
    col: 5,
    message: "unknown key 'scop' in sources[0]; did you mean 'scope'?",
  });
  const good = adsync(['validate', '-c', 'good.yaml', '--json'], dir);
  assert.equal(good.code, 0);
  assert.deepEqual(JSON.parse(good.stdout), { valid: true, file: 'good.yaml', problems: [] });
});

test('adsync validate: a missing spec is one clear error with a hint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-cli-'));
  const r = adsync(['validate'], dir);
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => /^(Error|Hint)/.test(l));
  assert.deepEqual(lines, ['Error: spec not found: ./adsync.yaml', 'Hint: -c/--config defaults to ./adsync.yaml']);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
