/**
 * Exit codes, formats, logs and secrets (issue 6):
 *  - `plan --detailed-exitcode`: 0 no changes, 1 error, 2 changes; `--json` on every command prints its typed
 *    result and nothing else;
 *  - markdown that reads as a pull-request comment (summary table, grouped by kind, long lists folded);
 *  - `--log-format json`: every stderr line a JSON object; no progress noise when stderr is not a terminal;
 *  - no test secret in any output, log or file of representative runs, success and failure, with --debug.
 *    (Every CLI run through test/support/tenant.ts goes through the same check.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/model/plan.js';
import { BIN } from '../support/cli.js';
import {
  assertNoSecrets,
  CLIENT_SECRET,
  scanDirForSecrets,
  smallLdif,
  startTenant,
  WRONG_SECRET,
  type Tenant,
} from '../support/tenant.js';

type Json = Record<string, any>;

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
    assert.match(
      r.stdout,
      /^\| create \|( [a-z ]+ \|)+ delete \| members added \| members removed \| report items \|\n\|(---:\|)+\n\| 15 \|( 0 \|)+ 14 \| 0 \| 0 \|$/m,
    );
    assert.match(
      r.stdout,
      /<details><summary><b>➕ Create 14 users<\/b><\/summary>/,
      'long lists folded, by kind and action',
    );
    assert.match(r.stdout, /#### ➕ Create 1 group/);
    assert.match(r.stdout, /#### 👥 Add members to 1 group, 14 memberships/);
    assert.match(r.stdout, /^ {2}- … and 4 more$/m, 'long member lists counted');
    // From one read: the saved plan on --out, the comment in a file (or, --split, every change in comments of --max-length).
    const split = await t.cli([
      'plan',
      '-c',
      t.spec,
      '--format',
      'json',
      '--markdown',
      join(dir, 'comment.md'),
      '--split',
      '--max-length',
      '2000',
    ]);
    assert.equal(split.code, 0, split.stderr);
    const parts = (await readdir(dir)).filter((f) => /^comment\.\d+\.md$/.test(f)).sort();
    assert.ok(parts.length > 2, parts.join());
    for (const f of parts) assert.ok((await readFile(join(dir, f), 'utf8')).length <= 2000, f);
  });

  it('--log-format json: one JSON object per stderr line, progress as events, no terminal noise', async () => {
    const out = join(dir, 'plan.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out, '--log-format', 'json'])).code, 0);
    const r = await t.cli(['apply', '-c', t.spec, out, '--log-format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    const events = lines.map(
      (l) => JSON.parse(l) as { level: string; time: string; command: string; event: string; msg: string },
    );
    for (const e of events) {
      assert.equal(e.command, 'apply');
      assert.match(e.time, /^\d{4}-\d\d-\d\dT/);
      assert.ok(['info', 'warn', 'error'].includes(e.level) && e.event && e.msg);
    }
    assert.deepEqual(
      [...new Set(events.map((e) => e.event))].filter((e) => !e.endsWith('.progress')),
      ['lock.acquired', 'plan.ready', 'apply.start', 'apply.done'],
    );
    assert.ok(events.some((e) => e.event === 'apply.progress'));
    assert.doesNotMatch(r.stderr + r.stdout, /\r|\x1b\[/, 'no progress bar or colour when not a terminal');
  });

  it('--json: every command prints its typed result, and only that, on stdout', async () => {
    // Runs after the apply above, with one user changed since: each command has something to say.
    await writeFile(
      join(dir, 'corp.ldif'),
      smallLdif(
        users.map((u) => (u.cn === 'Person 3' ? { ...u, department: 'Sales' } : u)),
        [{ cn: 'All', members: users.map((u) => u.cn) }],
      ),
    );
    /** stdout must be one JSON document: no text rendering, no progress, nothing else. */
    const json = (r: { stdout: string; stderr: string }, what: string): Json => {
      try {
        return JSON.parse(r.stdout) as Json;
      } catch {
        throw new Error(
          `${what} --json: stdout is not one JSON document:\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(-500)}`,
        );
      }
    };
    const checks: Record<string, () => Promise<void>> = {
      async validate() {
        const r = await t.cli(['validate', '-c', t.spec, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const v = json(r, 'validate');
        assert.deepEqual([v['valid'], v['problems']], [true, []]);
        assert.match(String(v['file']), /adsync\.yaml$/);
      },
      async plan() {
        const r = await t.cli(['plan', '-c', t.spec, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const p = json(r, 'plan') as Plan;
        assert.equal(p.formatVersion, 1);
        assert.deepEqual(
          p.changes.map((c) => `${c.action} ${c.label}`),
          ['update person.3@corp.example'],
        );
      },
      async explain() {
        const r = await t.cli(['explain', '-c', t.spec, 'person.3@corp.example', '--json']);
        assert.equal(r.code, 0, r.stderr);
        const e = json(r, 'explain');
        assert.deepEqual([e['found'], e['object']?.kind, e['synchronized']], [true, 'user', true]);
        assert.deepEqual(
          (e['changes'] as Plan['changes']).map((c) => c.action),
          ['update'],
        );
      },
      async doctor() {
        const r = await t.cli(['doctor', '-c', t.spec, '--json']);
        const d = json(r, 'doctor');
        const findings = d['findings'] as { status: string; source: string; message: string }[];
        assert.ok(
          findings.length > 0 && findings.every((f) => typeof f.source === 'string' && typeof f.message === 'string'),
        );
        assert.equal(d['errors'], findings.filter((f) => f.status === 'error').length);
        assert.equal(r.code, d['errors'] > 0 ? 1 : 0, 'the exit code follows the errors');
      },
      async unlock() {
        // The lock file a killed apply left (its pid is gone), as the lock names it.
        const lock = join(dir, '.adsync', `apply-${t.emu.tenantId}.lock`);
        const since = '2026-01-01T00:00:00.000Z';
        await writeFile(
          lock,
          JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), since, command: 'x', runId: 'r-gone' }),
        );
        const refused = await t.cli(['unlock', 'r-other', '-c', t.spec, '--json']);
        assert.equal(refused.code, 1);
        assert.equal(json(refused, 'unlock').error.code, 'state_unlock_refused');
        const r = await t.cli(['unlock', 'r-gone', '-c', t.spec, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const u = json(r, 'unlock');
        assert.deepEqual(
          [u['location'], u['holder']],
          [lock, `run r-gone (pid ${2 ** 22 + 7} on ${hostname()} since ${since}: x)`],
        );
        assert.equal(existsSync(lock), false);
      },
      async apply() {
        const refused = await t.cli(['apply', '-c', t.spec, '--json']);
        assert.equal(refused.code, 1);
        assert.equal(json(refused, 'apply').error.code, 'approval_needed', 'an error is a typed envelope too');
        const r = await t.cli(['apply', '-c', t.spec, '--auto-approve', '--json']);
        assert.equal(r.code, 0, r.stderr);
        const a = json(r, 'apply');
        assert.deepEqual([a['plan'].changes.length, a['result'].applied, a['result'].failed], [1, 1, []]);
      },
      async emulator() {
        const cert = join(dir, 'json-emulator.pem');
        const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', '--cert-out', cert, '--json'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
        let printedWhileRunning: string;
        try {
          // Running once it has written the certificate; it prints its result when stopped.
          while (!existsSync(cert) && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
          printedWhileRunning = stdout;
        } finally {
          child.kill('SIGTERM');
        }
        assert.equal(await closed, 0, stderr);
        assert.equal(printedWhileRunning, '', 'nothing printed while it runs');
        const e = json({ stdout, stderr }, 'emulator');
        assert.match(String(e['url']), /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(e['certPath'], cert);
      },
    };
    const commands = (await readdir(fileURLToPath(new URL('../../src/commands/', import.meta.url))))
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(0, -3));
    assert.deepEqual(Object.keys(checks).sort(), commands.sort(), 'every command is run with --json here');
    for (const check of Object.values(checks)) await check(); // in this order: apply last
  });

  it('no secret in any output, log or file: success, failure and --debug runs', async () => {
    // A second spec whose secret comes from a file, and a third with a wrong secret (the error path).
    const fileSpec = join(dir, 'file-secret.yaml');
    const secretDir = await mkdtemp(join(tmpdir(), 'adsync-secret-'));
    await writeFile(join(secretDir, 'secret.txt'), CLIENT_SECRET, { mode: 0o600 });
    const specText = await readFile(t.spec, 'utf8');
    await writeFile(
      fileSpec,
      specText.replace(/secret: \{ env: \w+ \}/, `secret: { file: ${join(secretDir, 'secret.txt')} }`),
    );
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
