/**
 * Issue 17, hostile and careless input, through the CLI on copies of the quickstart (embedded tenant):
 *  - misplaced secrets (a password in the LDAP URL, pasted as an env name or a file path) are refused and
 *    never printed;
 *  - guard rails for membership removals; an empty source stops the plan; maxDeletePercent is on by default;
 *  - `plan --out` never overwrites a file that is not a plan, and writes atomically;
 *  - a state file that can't be saved (full disk) fails apply loudly; stdout that can't be written too;
 *  - Ctrl-C during apply finishes in flight, journals, releases the lock, says how to resume; re-run converges;
 *  - one line with what and where for a corrupt tenant state, YAML alias bombs, deeply nested plans,
 *    map-valued flows; a closed pipe ends quietly; an ignored ldap.baseDn is a warning.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, runCli, type CliResult } from '../support/cli.js';

const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));
/** What a careless administrator pastes; no run may print it. */
const SECRET = 'Hunter2-Pa55w0rd!x9';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'adsync-hostile-'));
});
after(async () => rm(root, { recursive: true, force: true }));

let dirs = 0;
/** A fresh copy of the quickstart; `safety` replaces the spec's safety block. */
async function quickstart(
  options: { safety?: string } = {},
): Promise<{ dir: string; spec: string; ldif: string; state: string }> {
  const dir = join(root, `qs-${++dirs}`);
  await mkdir(dir);
  await cp(join(QUICKSTART, 'corp.ldif'), join(dir, 'corp.ldif'));
  await cp(join(QUICKSTART, 'tenant.yaml'), join(dir, 'tenant.yaml'));
  let text = await readFile(join(QUICKSTART, 'adsync.yaml'), 'utf8');
  if (options.safety !== undefined) text = `${text.replace(/^safety:[\s\S]*$/m, '')}${options.safety}`;
  await writeFile(join(dir, 'adsync.yaml'), text);
  return {
    dir,
    spec: join(dir, 'adsync.yaml'),
    ldif: join(dir, 'corp.ldif'),
    state: join(dir, '.adsync', 'tenant.json'),
  };
}

function noStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /^\s+at .*\(.*:\d+:\d+\)$/m, `a stack trace:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Error \(unexpected\)/, r.stderr);
}

function noSecret(r: CliResult): void {
  assert.ok(
    !r.stdout.includes(SECRET) && !r.stderr.includes(SECRET),
    `the secret was printed:\n${r.stdout}\n${r.stderr}`,
  );
  assert.ok(!r.stderr.includes('Pa55w0rd'), 'part of the secret was printed');
}

/** The CLI under `sh -c 'ulimit -f KB'`: files it writes can't grow past KB kilobytes (EFBIG, as a full disk). */
function runLimited(kb: number, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `ulimit -f ${kb}; exec "$0" "$@"`, process.execPath, BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** An LDIF of `n` users under OU=Staff of corp.example. */
function bigLdif(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const sam = `user${String(i).padStart(5, '0')}`;
    out.push(
      [
        `dn: CN=${sam},OU=Staff,DC=contoso,DC=example`,
        'changetype: add',
        'objectClass: top',
        'objectClass: person',
        'objectClass: organizationalPerson',
        'objectClass: user',
        `cn: ${sam}`,
        `sAMAccountName: ${sam}`,
        `userPrincipalName: ${sam}@contoso.example`,
        `displayName: User ${i}`,
        'userAccountControl: 512',
        `objectGUID:: ${Buffer.from(`g-${sam}`.padEnd(16, '.')).toString('base64')}`,
      ].join('\n'),
    );
  }
  return `${out.join('\n\n')}\n\n`;
}

describe('misplaced secrets are refused and never printed', () => {
  const specWith = (ldap: string) => `version: 1
sources:
  - name: corp
    ldap:
${ldap}
    scope:
      domains: [contoso.example]
target:
  emulator:
    state: ./.adsync/tenant.json
    tenant: contoso.onmicrosoft.com
    domains: [contoso.example]
`;

  it('a password inside the LDAP URL: validate refuses it at FILE:LINE:COL without echoing it', async () => {
    const file = join(root, 'url-secret.yaml');
    await writeFile(
      file,
      specWith(
        `      url: ldaps://admin:${SECRET}@dc1.contoso.example\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { env: ADSYNC_LDAP_PASSWORD }`,
      ),
    );
    const r = await runCli(['validate', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /url-secret\.yaml:5:12 sources\[0\]\.ldap\.url holds credentials in the URL \(user:password@host; not shown\)/,
    );
    noSecret(r);
    // startTls on an ldaps:// URL names the URL: without its credentials.
    await writeFile(
      file,
      specWith(
        `      url: ldaps://admin:${SECRET}@dc1.contoso.example\n      startTls: true\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { env: ADSYNC_LDAP_PASSWORD }`,
      ),
    );
    const tls = await runCli(['validate', '-c', file, '--json']);
    assert.equal(tls.code, 1);
    assert.match(tls.stdout, /already TLS/);
    noSecret(tls);
  });

  it('a URL with credentials from the environment: plan refuses it without echoing it', async () => {
    const file = join(root, 'url-env.yaml');
    await writeFile(
      file,
      specWith(
        '      url: { env: ADSYNC_TEST_URL }\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { env: ADSYNC_TEST_PASSWORD }',
      ),
    );
    const r = await runCli(['plan', '-c', file], {
      env: { ADSYNC_TEST_URL: `ldaps://admin:${SECRET}@127.0.0.1:1`, ADSYNC_TEST_PASSWORD: 'x-irrelevant' },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: sources\[corp\]\.ldap\.url holds credentials in the URL/m);
    noSecret(r);
    noStack(r);
  });

  it('a secret pasted as an env: name is not a valid variable name, and is not shown', async () => {
    const file = join(root, 'env-secret.yaml');
    await writeFile(
      file,
      specWith(
        `      url: ldaps://dc1.contoso.example\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { env: "${SECRET}" }`,
      ),
    );
    const r = await runCli(['validate', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /env-secret\.yaml:7:\d+ sources\[0\]\.ldap\.password\.env is not a valid environment variable name .*not shown/,
    );
    noSecret(r);
  });

  it('a secret pasted as a file: path is not named; a path that looks like one is', async () => {
    const file = join(root, 'file-secret.yaml');
    await writeFile(
      file,
      specWith(
        `      url: ldaps://127.0.0.1:1\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { file: "${SECRET}" }`,
      ),
    );
    const r = await runCli(['plan', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: sources\[corp\]\.ldap\.password: cannot read the secret file it names \(not shown: it does not look like a path/m,
    );
    noSecret(r);
    await writeFile(
      file,
      specWith(
        '      url: ldaps://127.0.0.1:1\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { file: ./secrets/ldap-password }',
      ),
    );
    const path = await runCli(['plan', '-c', file]);
    assert.equal(path.code, 1);
    assert.match(path.stderr, /cannot read secret file .*secrets\/ldap-password: ENOENT/);
  });
});

describe('guard rails: membership removals, empty sources, delete percentage by default', () => {
  /** Keeps the first member of each security group of the quickstart: 10 of its 13 memberships go. */
  const keepOneMember = (text: string): string => {
    let inGroup = false;
    let kept = false;
    return text
      .split('\n')
      .filter((l) => {
        if (l.startsWith('dn: ')) {
          inGroup = l.includes('OU=Groups') && !l.includes('Sales Team');
          kept = false;
        }
        if (!inGroup || !/^member::? /.test(l)) return true;
        if (kept) return false;
        kept = true;
        return true;
      })
      .join('\n');
  };

  it('removing 10 of 13 memberships needs --force even with every other threshold at 0', async () => {
    const q = await quickstart({ safety: 'safety:\n  maxDeletes: 0\n  maxDeletePercent: 0\n  maxUpdates: 0\n' });
    assert.equal((await runCli(['apply', '-c', q.spec, '--auto-approve'])).code, 0);
    await writeFile(q.ldif, keepOneMember(await readFile(q.ldif, 'utf8')));
    const plan = await runCli(['plan', '-c', q.spec]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /0 members to add, 10 to remove/);
    assert.match(
      plan.stdout,
      /^Guard rails: apply will stop before any write unless run with --force:\n {2}- the plan removes 10 of 13 managed group memberships \(76\.9%\), over safety\.maxMemberRemovalPercent \(50%\)$/m,
    );
    const md = await runCli(['plan', '-c', q.spec, '--format', 'markdown']);
    assert.match(md.stdout, /^> - the plan removes 10 of 13 managed group memberships/m);
    const stopped = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(stopped.code, 1);
    assert.match(
      stopped.stderr,
      /^Error: apply stopped before any write: the plan removes 10 of 13 managed group memberships \(76\.9%\), over safety\.maxMemberRemovalPercent \(50%\)$/m,
    );
    assert.match((await runCli(['plan', '-c', q.spec])).stdout, /10 to remove/, 'nothing was written');
    // The count rail, with the percentage off.
    await writeFile(
      q.spec,
      `${(await readFile(q.spec, 'utf8')).replace(/^safety:[\s\S]*$/m, '')}safety:\n  maxMemberRemovals: 5\n  maxMemberRemovalPercent: 100\n`,
    );
    const count = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(count.code, 1);
    assert.match(count.stderr, /the plan removes 10 group memberships, over safety\.maxMemberRemovals \(5\)/);
    const forced = await runCli(['apply', '-c', q.spec, '--auto-approve', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /--force: applying although the plan removes 10 group memberships/);
    const clean = await runCli(['plan', '-c', q.spec, '--detailed-exitcode']);
    assert.equal(clean.code, 0, clean.stdout);
  });

  it('a 0-byte LDIF stops plan and apply; allowEmptySource lets it plan, and the default delete percentage still guards', async () => {
    const q = await quickstart({ safety: 'safety:\n  maxDeletes: 500\n' });
    assert.equal((await runCli(['apply', '-c', q.spec, '--auto-approve'])).code, 0);
    const tenant = await readFile(q.state);
    await writeFile(q.ldif, '');
    for (const args of [
      ['plan', '-c', q.spec],
      ['apply', '-c', q.spec, '--auto-approve'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
      assert.match(
        r.stderr,
        /^Error: source contoso: the LDIF export \.\/corp\.ldif returned no objects; planning now would delete every object adsync manages from it\nHint: .*safety\.allowEmptySource: true/m,
      );
      noStack(r);
    }
    assert.deepEqual(await readFile(q.state), tenant, 'the tenant is untouched');
    await writeFile(q.spec, `${await readFile(q.spec, 'utf8')}  allowEmptySource: true\n`);
    const plan = await runCli(['plan', '-c', q.spec]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /15 to delete/);
    assert.match(
      plan.stdout,
      /- the plan deletes 15 of 15 managed objects \(100\.0%\), over safety\.maxDeletePercent \(50%\)/,
    );
    const apply = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(apply.code, 1);
    assert.match(apply.stderr, /over safety\.maxDeletePercent \(50%\)/);
    assert.deepEqual(await readFile(q.state), tenant, 'the default percentage guard wrote nothing');
  });

  it('a scope filter that matches nothing stops the plan too', async () => {
    const q = await quickstart();
    await writeFile(
      q.spec,
      (await readFile(q.spec, 'utf8')).replace(
        '      domains: [contoso.example]',
        '      domains: [contoso.example]\n      filter: "(department=NoSuchDepartment)"',
      ),
    );
    const r = await runCli(['plan', '-c', q.spec]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: source contoso: none of the \d+ objects the LDIF export \.\/corp\.ldif returned is in scope/m,
    );
  });
});

describe('plan --out never overwrites what is not a plan', () => {
  it('refuses the spec, the tenant state file and a directory, leaving each untouched; replaces an earlier plan', async () => {
    const q = await quickstart();
    assert.equal((await runCli(['plan', '-c', q.spec])).code, 0); // creates the tenant state file
    for (const target of [q.spec, q.state, q.ldif, q.dir]) {
      const before = (await stat(target)).isFile() ? await readFile(target) : undefined;
      const r = await runCli(['plan', '-c', q.spec, '--out', target]);
      assert.equal(r.code, 1, target);
      assert.match(
        r.stderr,
        /^Error: refusing to write the plan to .*: (it exists and is not an adsync plan|it is a directory)\nHint: choose another --out path/,
      );
      assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 2, r.stderr);
      if (before) assert.deepEqual(await readFile(target), before, `${target} untouched`);
    }
    const out = join(q.dir, 'plan.json');
    assert.equal((await runCli(['plan', '-c', q.spec, '--out', out])).code, 0);
    await writeFile(
      q.ldif,
      (await readFile(q.ldif, 'utf8')).replace('displayName: Ann Lee', 'displayName: Ann Lee-Smith'),
    );
    const again = await runCli(['plan', '-c', q.spec, '--out', out]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(await readFile(out, 'utf8'), /Ann Lee-Smith/);
    // --format json output saved by hand is a plan too.
    const piped = join(q.dir, 'piped.json');
    await writeFile(piped, (await runCli(['plan', '-c', q.spec, '--format', 'json'])).stdout);
    assert.equal((await runCli(['plan', '-c', q.spec, '--out', piped])).code, 0);
  });

  it('a plan that cannot be written fully leaves the earlier one and no temp file', async () => {
    const q = await quickstart();
    await writeFile(q.ldif, bigLdif(400));
    const out = join(q.dir, 'plan.json');
    await writeFile(out, '{\n  "formatVersion": 1,\n  "tool": {\n    "name": "adsync"}}\n');
    const before = await readFile(out);
    const r = await runLimited(64, ['plan', '-c', q.spec, '--out', out]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^Error: cannot write the plan to .*plan\.json: EFBIG/m);
    noStack(r);
    assert.deepEqual(await readFile(out), before);
    assert.deepEqual(
      (await readdir(q.dir)).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });
});

describe('state that cannot be saved fails loudly', () => {
  it('apply exits 1 saying the embedded tenant was not saved (no "Apply complete"); a re-run converges', async () => {
    const q = await quickstart();
    assert.equal((await runCli(['plan', '-c', q.spec])).code, 0); // a new tenant: ~5 KB
    const tenant = await readFile(q.state);
    assert.ok(tenant.length < 8 * 1024);
    const r = await runLimited(8, ['apply', '-c', q.spec, '--auto-approve']); // the applied tenant is ~17 KB
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /Apply complete/);
    assert.match(
      r.stderr,
      /^Error: the embedded tenant: cannot save the emulator state to .*tenant\.json: EFBIG\nHint: free space/m,
    );
    noStack(r);
    assert.deepEqual(await readFile(q.state), tenant, 'the state file is as it was, not half-written');
    assert.deepEqual(
      (await readdir(join(q.dir, '.adsync'))).filter((n) => n.endsWith('.tmp')),
      [],
    );
    const again = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Apply complete: 20 change\(s\) applied, 0 failed/);
    assert.equal((await runCli(['plan', '-c', q.spec, '--detailed-exitcode'])).code, 0);
  });

  it('a journal that cannot be read or written stops apply with one line; a re-run converges', async () => {
    const q = await quickstart();
    await writeFile(q.ldif, bigLdif(400));
    assert.equal((await runCli(['plan', '-c', q.spec])).code, 0); // a new tenant (~5 KB)
    const tenant = await readFile(q.state);
    // A file where the journal directory goes: nothing is written.
    await writeFile(join(q.dir, '.adsync', 'journal'), 'not a directory');
    const unreadable = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(unreadable.code, 1);
    assert.match(
      unreadable.stderr,
      /^Error: cannot read the apply journal .*journal\/[0-9a-f]{64}\.jsonl: ENOTDIR \(a parent of the path is not a directory\)\nHint: /m,
    );
    noStack(unreadable);
    assert.deepEqual(await readFile(q.state), tenant);
    await rm(join(q.dir, '.adsync', 'journal'));
    // A journal that can't grow past 16 KB (as a full disk): apply stops at that change, saying so.
    const full = await runLimited(16, ['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(full.code, 1, full.stdout);
    assert.doesNotMatch(full.stdout, /Apply complete/);
    assert.match(full.stderr, /^Error: cannot write the apply journal .*\.jsonl: EFBIG/m);
    noStack(full);
    const again = await runCli(['apply', '-c', q.spec, '--auto-approve']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await runCli(['plan', '-c', q.spec, '--detailed-exitcode'])).code, 0);
  });

  it('stdout on a full disk: one line, exit 1, no stack trace', async () => {
    const q = await quickstart();
    const full = openSync('/dev/full', 'w');
    try {
      const r = await new Promise<CliResult>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'plan', '-c', q.spec], {
          env: { ...process.env, NO_COLOR: '1' },
          stdio: ['ignore', full, 'pipe'],
        });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr }));
      });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'Error: cannot write the output: ENOSPC (no space left on the device)\n');
    } finally {
      closeSync(full);
    }
  });

  it('a closed pipe (adsync plan | head -1) ends quietly, exit 0', async () => {
    const q = await quickstart();
    await writeFile(q.ldif, bigLdif(600)); // a plan far larger than a pipe's buffer
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'plan', '-c', q.spec, '--format', 'json'], {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let first = '';
      child.stdout.once('data', (d: Buffer) => {
        first = d.toString().split('\n')[0]!;
        child.stdout.destroy(); // the reader goes away, as head does after its line
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout: first, stderr }));
    });
    assert.equal(r.stdout, '{');
    assert.equal(r.code, 0, r.stderr);
    // Nothing but the plan's own warnings (this copy's LDIF has no service account to exclude).
    assert.equal(
      r.stderr
        .split('\n')
        .filter((l) => l !== '' && !/^Warning: sources\[0\]\.scope\./.test(l))
        .join('\n'),
      '',
    );
  });
});

describe('Ctrl-C during apply', () => {
  it('finishes in flight, journals, releases the lock, says how to resume (exit 130); the same command resumes and converges', async () => {
    const q = await quickstart({ safety: 'safety:\n  maxDeletes: 500\n' });
    await writeFile(q.ldif, bigLdif(2000));
    const out = join(q.dir, 'plan.json');
    assert.equal((await runCli(['plan', '-c', q.spec, '--out', out])).code, 0);
    const journalDir = join(q.dir, '.adsync', 'journal');
    const child = spawn(process.execPath, [BIN, 'apply', '-c', q.spec, out], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let exited = false;
    void closed.then(() => (exited = true));
    // Deterministic: the signal goes once the journal holds a finished change (the first writes are done).
    for (;;) {
      const names = await readdir(journalDir).catch(() => [] as string[]);
      const text = names.length > 0 ? await readFile(join(journalDir, names[0]!), 'utf8').catch(() => '') : '';
      if (text.includes('"t":"done"')) break;
      assert.ok(!exited, `apply ended before its first journaled change:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGINT');
    const code = await closed;
    assert.equal(code, 130, `${stdout}\n${stderr}`);
    assert.doesNotMatch(stdout, /Apply complete/);
    assert.match(stderr, /^Interrupted \(SIGINT\): finishing the requests in flight, then stopping/m);
    const m =
      /^Error: interrupted \(SIGINT\): (\d+) of 2000 change\(s\) applied, 0 failed, (\d+) not started; the lock is released\nHint: run the same command again \(adsync apply -c .* .*plan\.json\): it resumes where this run stopped$/m.exec(
        stderr,
      );
    assert.ok(m, stderr);
    const appliedBefore = Number(m[1]);
    assert.ok(appliedBefore >= 1 && Number(m[2]) >= 1, `interrupted part-way: ${m[0]}`);
    noStack({ code: 130, stdout, stderr });
    assert.deepEqual(
      (await readdir(join(q.dir, '.adsync'))).filter((n) => n.endsWith('.lock')),
      [],
      'the lock is released',
    );
    const resumed = await runCli(['apply', '-c', q.spec, out]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      new RegExp(
        `Resuming an interrupted apply of .*plan\\.json: ${appliedBefore} of 2000 change\\(s\\) finished before; ${2000 - appliedBefore} left to apply`,
      ),
    );
    assert.match(resumed.stdout, new RegExp(`Apply complete: ${2000 - appliedBefore} change\\(s\\) applied, 0 failed`));
    const clean = await runCli(['plan', '-c', q.spec, '--detailed-exitcode']);
    assert.equal(clean.code, 0, clean.stdout);
  });
});

describe('one line with what and where', () => {
  it('a corrupt embedded tenant state file is named, with a hint', async () => {
    const q = await quickstart();
    await mkdir(join(q.dir, '.adsync'), { recursive: true });
    await writeFile(q.state, '{"format": "adsync-graph-emu');
    const r = await runCli(['plan', '-c', q.spec]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: the embedded tenant: cannot load the emulator state .*tenant\.json: .*JSON.*\nHint: the state file is damaged or not an emulator state: move .*tenant\.json aside/m,
    );
    noStack(r);
    assert.deepEqual(
      (await readdir(join(q.dir, '.adsync'))).filter((n) => n.endsWith('.lock')),
      [],
    );
  });

  it('a YAML alias bomb is refused at the first alias', async () => {
    const file = join(root, 'bomb.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (const [prev, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
      ['f', 'g'],
      ['g', 'h'],
    ] as const)
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    await writeFile(file, `version: 1\n${levels.join('\n')}\n`);
    const r = await runCli(['validate', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^.*bomb\.yaml:3:8 YAML alias error: Excessive alias count indicates a resource exhaustion attack/m,
    );
    noStack(r);
  });

  it('a saved plan nested a hundred thousand levels deep is refused, not a stack overflow', async () => {
    const q = await quickstart();
    const out = join(q.dir, 'plan.json');
    assert.equal((await runCli(['plan', '-c', q.spec, '--out', out])).code, 0);
    const deep = 100_000;
    await writeFile(
      out,
      (await readFile(out, 'utf8')).replace('"after":', `"after":${'['.repeat(deep)}${']'.repeat(deep)},"x":`),
    );
    const r = await runCli(['apply', '-c', q.spec, out]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: .*plan\.json is not a saved adsync plan: it nests more than 64 levels deep \(at byte \d+\)$/m,
    );
    noStack(r);
  });

  it("a flow that gives a map is one positioned line (validate's type check), never a crash", async () => {
    const q = await quickstart();
    await writeFile(
      q.spec,
      (await readFile(q.spec, 'utf8')).replace(`companyName: '"Contoso"'`, `companyName: '{"a": 1}'`),
    );
    const r = await runCli(['plan', '-c', q.spec]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /adsync\.yaml:\d+:\d+ objects\.user\.flows\.companyName gives a map; Graph's companyName is a string/,
    );
    noStack(r);
  });

  it('ldap.baseDn ignored because the scope names OUs: a warning naming it in validate and plan', async () => {
    const q = await quickstart();
    await writeFile(
      q.spec,
      (await readFile(q.spec, 'utf8')).replace(
        '    ldif:\n      path: ./corp.ldif',
        '    ldap:\n      url: ldaps://127.0.0.1:1\n      bindDn: CN=sync,DC=contoso,DC=example\n      password: { env: ADSYNC_TEST_UNSET_PASSWORD }\n      baseDn: OU=Staff,DC=contoso,DC=example',
      ),
    );
    const v = await runCli(['validate', '-c', q.spec]);
    assert.equal(v.code, 0, v.stderr);
    const warning =
      /^Warning: .*adsync\.yaml:19:7 sources\[0\]\.ldap\.baseDn is ignored: the OUs in sources\[0\]\.scope\.ous\.include are the search bases \(remove baseDn/m;
    assert.match(v.stderr, warning);
    const p = await runCli(['plan', '-c', q.spec]);
    assert.match(p.stderr, /^Warning: .*adsync\.yaml:19:7 sources\[0\]\.ldap\.baseDn is ignored/m);
    // Without OUs or domains in the scope, baseDn is the search base: no warning.
    await writeFile(
      q.spec,
      (await readFile(q.spec, 'utf8')).replace(/ {4}scope:\n[\s\S]*?\ntarget:/, '    scope: {}\n\ntarget:'),
    );
    const quiet = await runCli(['validate', '-c', q.spec]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /baseDn/);
  });
});
