/**
 * Issue 17: resume after SIGKILL when users have managers. Managers are set through `$ref` after every create
 * of the run; an apply killed in between left users created without their manager. Re-running the saved
 * plan was refused as stale, and a fresh plan called adsync's own unfinished write "drift: edited in the
 * cloud". The kill is deterministic: once the journal records its first create, the tenant answers every
 * further request 503 (nothing more is written), and the apply is SIGKILLed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { connectEmulator } from '../../src/connectors/entra/index.js';
import { BIN } from '../support/cli.js';
import { startTenant, type Tenant } from '../support/tenant.js';

const QUICKSTART_LDIF = fileURLToPath(new URL('../../../examples/quickstart/corp.ldif', import.meta.url));
const BASE = 'DC=contoso,DC=example';

/** The quickstart's export with managers: Staff report to Grace Park (she to Ann Lee), contractors to Hiroshi Tanaka. */
function withManagers(ldif: string): string {
  return ldif.replace(
    /^dn: (CN=([^,]+),OU=(Staff|Contractors),DC=contoso,DC=example)\nchangetype: add\n/gm,
    (whole, _dn: string, cn: string, ou: string) => {
      const manager = ou === 'Contractors' ? 'Hiroshi Tanaka' : cn === 'Grace Park' ? 'Ann Lee' : 'Grace Park';
      return `${whole}manager: CN=${manager},OU=Staff,${BASE}\n`;
    },
  );
}

function journalLines(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.jsonl') && e.parentPath.endsWith('journal'))
      out.push(
        ...readFileSync(join(e.parentPath, e.name), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"t":"done"')),
      );
  }
  return out;
}

async function usersWithManagers(t: Tenant) {
  const reader = await connectEmulator(t.emu);
  return (await reader.read({ userProperties: ['manager'], groupProperties: [], readMembers: false })).objects.filter(
    (o) => o.kind === 'user',
  );
}

describe('resume after SIGKILL with managers', () => {
  let dir: string;
  let t: Tenant;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-resume-managers-'));
    t = await startTenant(dir, { domain: 'contoso.example' });
    const ldif = withManagers(await readFile(QUICKSTART_LDIF, 'utf8'));
    assert.equal(ldif.match(/^manager: /gm)?.length, 10); // not Chen, Wei (escaped comma) nor Zoë (base64 DN)
    await writeFile(join(dir, 'corp.ldif'), ldif);
    await t.writeSpec({ ldif: 'corp.ldif', scope: `ous: { exclude: ["OU=Service Accounts,${BASE}"] }` });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the saved plan resumes, the fresh plan shows no drift, and everything converges', async () => {
    const planFile = join(dir, 'plan.json');
    const made = await t.cli(['plan', '-c', t.spec, '--out', planFile]);
    assert.equal(made.code, 0, made.stderr);
    const saved = JSON.parse(await readFile(planFile, 'utf8')) as Plan;
    assert.ok(saved.changes.some((c) => c.action === 'create' && c.attributes.some((a) => a.name === 'manager')));

    // apply, and kill it once the journal holds a finished create (no manager is set by then)
    const child = spawn(process.execPath, [BIN, 'apply', '-c', t.spec, planFile, '--auto-approve'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', ...t.env },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const timer = setInterval(() => {
        if (journalLines(dir).length > 0) {
          t.emu.setFaults({ randomFailureRate: 1 });
          clearInterval(timer);
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 300);
        } else if (Date.now() - started > 120_000 || child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error('the apply wrote no journal entry before it ended'));
        }
      }, 2);
    });
    assert.equal(await exited, 'SIGKILL');
    t.emu.setFaults({});
    const created = await usersWithManagers(t);
    assert.ok(created.length > 0, 'the killed apply created users');
    assert.equal(created.filter((u) => u.attrs.manager !== null).length, 0, 'no manager was set before the kill');
    const withManager = saved.changes.filter(
      (c): c is Extract<Change, { action: 'create' }> =>
        c.action === 'create' && c.attributes.some((a) => a.name === 'manager'),
    );
    assert.ok(
      created.some((u) => withManager.some((c) => c.anchor === u.anchor)),
      'a user that should have a manager was created without one',
    );

    // a fresh plan: what is left, and no attribute is called drift
    const fresh = await t.cli(['plan', '-c', t.spec, '--format', 'json']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const freshPlan = JSON.parse(fresh.stdout) as Plan;
    const updates = freshPlan.changes.filter((c): c is Extract<Change, { action: 'update' }> => c.action === 'update');
    assert.ok(updates.length > 0, 'the unfinished managers are updates now');
    for (const u of updates) {
      assert.deepEqual(
        u.attributes.map((a) => a.name),
        ['manager'],
        u.label,
      );
      assert.ok(
        u.attributes.every((a) => a.drift === undefined && !/drift/.test(a.flow)),
        `${u.label}: ${u.attributes.map((a) => a.flow).join()}`,
      );
    }

    // the saved plan resumes and finishes
    const resumed = await t.cli(['apply', '-c', t.spec, planFile, '--auto-approve']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.doesNotMatch(resumed.stderr, /stale/);
    const clean = await t.cli(['plan', '-c', t.spec, '--detailed-exitcode']);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const users = await usersWithManagers(t);
    assert.equal(users.length, 12);
    assert.equal(users.filter((u) => u.attrs.manager !== null).length, 10, 'every manager is set');
  });
});
