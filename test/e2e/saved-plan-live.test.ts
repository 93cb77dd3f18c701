/**
 * Saved plans on a live directory (issue 14) and saved-plan integrity (issue 17), through the CLI:
 *  - plan --out → an unrelated AD change → apply PLAN applies exactly the saved changes, and says how many
 *    further changes wait for the next run; a change to an object the plan touches still refuses it, by name;
 *  - a hand-edited plan (lower `managed`, no tenant, a broken shape) is refused or guarded as if unedited.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Plan } from '../../src/model/plan.js';
import { smallLdif, startTenant, type Tenant } from '../support/tenant.js';

describe('saved plans on a live directory, and their integrity', () => {
  let dir: string;
  let t: Tenant;
  const people = (departments: Record<string, string>, names = ['Ann Lee', 'Bob Ortiz', 'Cy Park', 'Dee Ng']) =>
    names.map((cn) => ({ cn, ou: 'Staff', department: departments[cn] ?? 'IT' }));
  const writeLdif = (users: ReturnType<typeof people>) =>
    writeFile(join(dir, 'corp.ldif'), smallLdif(users, [{ cn: 'Staff', members: users.map((u) => u.cn) }]));
  const freshPlan = async (): Promise<Plan> =>
    JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
  const summary = (p: Plan) =>
    p.changes.map(
      (c) =>
        `${c.action} ${c.label}${'attributes' in c ? ` ${c.attributes.map((a) => `${a.name}=${String(a.after)}`).join(',')}` : ''}`,
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-live-'));
    t = await startTenant(dir);
    await writeLdif(people({}));
    await t.writeSpec({ ldif: 'corp.ldif', extra: 'safety:\n  maxDeletePercent: 50\n' });
    const r = await t.cli(['apply', '-c', t.spec, '--auto-approve']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an unrelated AD change since the plan: the saved changes are applied, exactly, and the rest is counted', async () => {
    await writeLdif(people({ 'Ann Lee': 'Sales' }));
    const out = join(dir, 'p1.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out])).code, 0);
    await writeLdif(people({ 'Ann Lee': 'Sales', 'Bob Ortiz': 'Legal' })); // another user's change, after the review
    const r = await t.cli(['apply', '-c', t.spec, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Apply complete: 1 change\(s\) applied, 0 failed/);
    assert.match(r.stderr, /^1 further change since the plan; run plan again/m);
    assert.deepEqual(
      summary(await freshPlan()),
      ['update bob.ortiz@corp.example department=Legal'],
      "Ann's change applied, Bob's left for the next run",
    );
  });

  it('a change to an object the plan touches still refuses it, by name', async () => {
    const out = join(dir, 'p2.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out])).code, 0); // Bob → Legal
    await writeLdif(people({ 'Ann Lee': 'Sales', 'Bob Ortiz': 'Research' }));
    const r = await t.cli(['apply', '-c', t.spec, out]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /is stale: 1 object\(s\) changed since it was made: user bob\.ortiz@corp\.example\n {2}user bob\.ortiz@corp\.example: a plan made now would change it differently/,
    );
    assert.deepEqual(
      summary(await freshPlan()),
      ['update bob.ortiz@corp.example department=Research'],
      'nothing applied',
    );
  });

  it('a hand-edited plan: a lower `managed` does not lift the percentage guard; no tenant or a broken shape is refused', async () => {
    await writeLdif(people({ 'Ann Lee': 'Sales' }, ['Ann Lee'])); // Bob, Cy, Dee: 3 of 5 managed objects, 60%
    const out = join(dir, 'p3.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out])).code, 0);
    const plan = JSON.parse(await readFile(out, 'utf8')) as Plan;
    assert.equal(plan.summary.delete, 3);
    const edited = join(dir, 'edited.json');
    await writeFile(edited, JSON.stringify({ ...plan, managed: 1000 }));
    const guarded = await t.cli(['apply', '-c', t.spec, edited]);
    assert.equal(guarded.code, 1);
    assert.match(
      guarded.stderr,
      /apply stopped before any write: the plan deletes 3 of 5 managed objects \(60\.0%\), over safety\.maxDeletePercent \(50%\)/,
    );

    const { tenantId: _t, ...target } = plan.target;
    await writeFile(edited, JSON.stringify({ ...plan, target }));
    const noTenant = await t.cli(['apply', '-c', t.spec, edited]);
    assert.equal(noTenant.code, 1);
    assert.match(
      noTenant.stderr,
      /^Error: the saved plan .*edited\.json was altered or is incomplete: it names no tenant/m,
    );

    await writeFile(edited, JSON.stringify({ ...plan, changes: plan.changes.map(({ observed: _o, ...c }) => c) }));
    assert.match(
      (await t.cli(['apply', '-c', t.spec, edited])).stderr,
      /lack the digest of the object they touch \(observed\)/,
    );
    await writeFile(edited, JSON.stringify({ ...plan, managed: 'many' }));
    assert.match(
      (await t.cli(['apply', '-c', t.spec, edited])).stderr,
      /^Error: .*edited\.json is not a saved adsync plan \(formatVersion 1\): \/managed must be integer/m,
    );
    assert.equal((await freshPlan()).summary.delete, 3, 'nothing deleted');
  });
});
