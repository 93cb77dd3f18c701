/**
 * Exit codes, formats, logs and secrets (issue 6):
 *  - `plan --detailed-exitcode`: 0 no changes, 1 error, 2 changes; `--json` on every command;
 *  - markdown that reads as a pull-request comment (summary table, grouped by kind, long lists folded);
 *  - `--log-format json`: every stderr line a JSON object; no progress noise when stderr is not a terminal;
 *  - no test secret in any output, log or file of representative runs, success and failure, with --debug.
 *    (Every CLI run of test/safety goes through the same check: see support.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/model/plan.js';
import { assertNoSecrets, CLIENT_SECRET, scanDirForSecrets, smallLdif, startTenant, WRONG_SECRET, type Tenant } from './support.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('exit codes, formats, logs and secrets', () => {
  let dir: string;
  let t: Tenant;
  const users = range(14).map((i) => ({ cn: `Person ${i}`, ou: 'Staff' }));
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-output-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'corp.ldif'), smallLdif(users, [{ cn: 'All', members: users.map((u) => u.cn) }]));
    await t.writeSpec({ ldif: 'corp.ldif' });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--detailed-exitcode: 2 with changes, 0 without, 1 on error', async () => {
    assert.equal((await t.cli(['plan', '-c', t.spec, '--detailed-exitcode'])).code, 2);
    assert.equal((await t.cli(['plan', '-c', t.spec])).code, 0, 'changes without the flag: 0');
    const missing = await t.cli(['plan', '-c', join(dir, 'nope.yaml'), '--detailed-exitcode']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: .*\nHint: /m);
  });

  it('markdown reads as a pull-request comment', async () => {
    const r = await t.cli(['plan', '-c', t.spec, '--format', 'markdown']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^### adsync plan for `adsync\.yaml` → tenant `[0-9a-f-]+`$/m);
    // the summary table: a header naming each kind of change, right-aligned counts
    assert.match(r.stdout, /^\| create \|( [a-z ]+ \|)+ delete \| members added \| members removed \| report items \|\n\|(---:\|)+\n\| 15 \|( 0 \|)+ 14 \| 0 \| 0 \|$/m);
    assert.match(r.stdout, /<details><summary><b>➕ Create 14 users<\/b><\/summary>/, 'long lists folded, by kind and action');
    assert.match(r.stdout, /#### ➕ Create 1 group/);
    assert.match(r.stdout, /#### 👥 Add members to 1 group, 14 memberships/);
    assert.match(r.stdout, /^ {2}- … and 4 more$/m, 'long member lists counted');
    // From one read: the saved plan on --out, the comment in a file (or, --split, every change in comments of --max-length).
    const split = await t.cli(['plan', '-c', t.spec, '--format', 'json', '--markdown', join(dir, 'comment.md'), '--split', '--max-length', '2000']);
    assert.equal(split.code, 0, split.stderr);
    const parts = (await readdir(dir)).filter((f) => /^comment\.\d+\.md$/.test(f)).sort();
    assert.ok(parts.length > 2, parts.join());
    for (const f of parts) assert.ok((await readFile(join(dir, f), 'utf8')).length <= 2000, f);
  });

  it('--json prints a typed result on every command', async () => {
    const commands = (await readdir(fileURLToPath(new URL('../../src/commands/', import.meta.url)))).filter((f) => f.endsWith('.js'));
    for (const f of commands) {
      const klass = (await import(new URL(`../../src/commands/${f}`, import.meta.url).href)) as { default: { enableJsonFlag?: boolean } };
      assert.equal(klass.default.enableJsonFlag, true, `${f} takes --json`);
    }
    const validate = JSON.parse((await t.cli(['validate', '-c', t.spec, '--json'])).stdout) as Record<string, unknown>;
    assert.ok(validate);
    const plan = JSON.parse((await t.cli(['plan', '-c', t.spec, '--json'])).stdout) as Plan;
    assert.equal(plan.formatVersion, 1);
    const err = await t.cli(['apply', '-c', t.spec, '--json']);
    assert.equal(err.code, 1);
    assert.equal((JSON.parse(err.stdout) as { error: { code: string } }).error.code, 'approval_needed');
  });

  it('--log-format json: one JSON object per stderr line, progress as events, no terminal noise', async () => {
    const out = join(dir, 'plan.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out, '--log-format', 'json'])).code, 0);
    const r = await t.cli(['apply', '-c', t.spec, out, '--log-format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { level: string; time: string; command: string; event: string; msg: string });
    for (const e of events) {
      assert.equal(e.command, 'apply');
      assert.match(e.time, /^\d{4}-\d\d-\d\dT/);
      assert.ok(['info', 'warn', 'error'].includes(e.level) && e.event && e.msg);
    }
    assert.deepEqual([...new Set(events.map((e) => e.event))].filter((e) => !e.endsWith('.progress')), ['lock.acquired', 'plan.ready', 'apply.start', 'apply.done']);
    assert.ok(events.some((e) => e.event === 'apply.progress'));
    assert.doesNotMatch(r.stderr + r.stdout, /\r|\x1b\[/, 'no progress bar or colour when not a terminal');
  });

  it('no secret in any output, log or file: success, failure and --debug runs', async () => {
    // A second spec whose secret comes from a file, and a third with a wrong secret (the error path).
    const fileSpec = join(dir, 'file-secret.yaml');
    const secretDir = await mkdtemp(join(tmpdir(), 'adsync-secret-'));
    await writeFile(join(secretDir, 'secret.txt'), CLIENT_SECRET, { mode: 0o600 });
    const specText = await readFile(t.spec, 'utf8');
    await writeFile(fileSpec, specText.replace(/secret: \{ env: \w+ \}/, `secret: { file: ${join(secretDir, 'secret.txt')} }`));
    const wrongSpec = join(dir, 'wrong.yaml');
    await writeFile(wrongSpec, specText.replace(/secret: \{ env: \w+ \}/, 'secret: { env: WRONG_SECRET }'));
    const runs: [string[], NodeJS.ProcessEnv?][] = [
      [['validate', '-c', t.spec]],
      [['plan', '-c', t.spec, '--debug']],
      [['plan', '-c', t.spec, '--format', 'json', '--out', join(dir, 'p1.json'), '--log-format', 'json']],
      [['plan', '-c', fileSpec, '--format', 'markdown', '--out', join(dir, 'p2.json')]],
      [['apply', '-c', fileSpec, join(dir, 'p2.json'), '--log-format', 'json', '--debug']],
      [['plan', '-c', wrongSpec, '--debug'], { WRONG_SECRET }],
      [['apply', '-c', wrongSpec, '--auto-approve', '--log-format', 'json', '--debug'], { WRONG_SECRET }],
      [['plan', '-c', wrongSpec, '--json'], { WRONG_SECRET }],
    ];
    let failures = 0;
    for (const [args, env] of runs) {
      const r = await t.cli(args, env ? { env } : {}); // t.cli checks stdout and stderr
      const wrong = args.some((a) => a.endsWith('wrong.yaml'));
      assert.equal(r.code, wrong ? 1 : 0, `${args.join(' ')}: ${r.stderr.slice(-1500)}`);
      if (wrong) failures++;
    }
    assert.equal(failures, 3, 'the wrong-secret runs fail (and were scanned)');
    await rm(secretDir, { recursive: true, force: true });
    const files = await scanDirForSecrets(dir);
    assert.ok(files >= 5, `plans, journal and spec files scanned (${files})`);
    assertNoSecrets(await readFile(join(dir, 'p1.json'), 'utf8'), 'p1.json');
  });
});
