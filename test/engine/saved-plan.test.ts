/**
 * Saved plans (issue 6): `plan --out` records the spec digest and a digest of every object the plan touches;
 * `apply PLAN` applies exactly those changes, and refuses, naming the objects, when the spec or one of them
 * changed since — also when the change list a fresh plan would make is the same.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { checkSavedPlan, furtherChanges, isRemainder, objectDigest } from '../../src/engine/saved-plan.js';
import type { Change } from '../../src/model/change.js';
import { summarize, type Plan } from '../../src/model/plan.js';
import type { TargetSnapshot } from '../../src/model/target.js';
import { getToken, trust } from '../emulator/helpers.js';
import { smallLdif, startTenant, type Tenant } from '../support/tenant.js';

const user = { kind: 'user' as const, target: 'entra' as const, rule: 'r' };
const snapshotOf = (objects: TargetSnapshot['objects']): TargetSnapshot => ({ system: 'entra', objects, deleted: [] });
function planOf(changes: Change[], digest = 'd'): Plan {
  return {
    formatVersion: 1,
    tool: { name: 'adsync', version: 't' },
    createdAt: '2026-01-01T00:00:00.000Z',
    spec: { path: 's', digest },
    target: { system: 'entra' },
    changes,
    reports: [],
    summary: summarize(changes, []),
    managed: 1,
  };
}

describe('checkSavedPlan (pure)', () => {
  const obj = {
    id: 'id1',
    kind: 'user' as const,
    anchor: 'A',
    attrs: { displayName: 'Ann', userPrincipalName: 'ann@x' },
  };
  const del: Change = {
    ...user,
    action: 'delete',
    anchor: 'A',
    label: 'ann@x',
    id: 'id1',
    reason: 'no longer in the source',
    observed: objectDigest(obj),
  };
  const input = (saved: Plan, fresh: Plan, objects = [obj]) => ({
    saved,
    fresh,
    snapshot: snapshotOf(objects),
    specDigest: 'd',
    path: 'plan.json',
  });

  it('passes an untouched plan, and returns it as saved', () => {
    const saved = planOf([del]);
    assert.equal(checkSavedPlan(input(saved, planOf([{ ...del }]))), saved);
  });

  it('refuses when an object it touches changed, though the change list is the same', () => {
    const edited = { ...obj, attrs: { ...obj.attrs, displayName: 'Ann (left)' } };
    assert.throws(
      () => checkSavedPlan(input(planOf([del]), planOf([{ ...del }]), [edited])),
      /is stale: 1 object\(s\) changed since it was made: user ann@x\nuser ann@x: changed in the target since the plan was made/,
    );
  });

  it('refuses a different spec and a different change', () => {
    assert.throws(
      () => checkSavedPlan({ ...input(planOf([del]), planOf([del])), specDigest: 'other' }),
      /made from a different version of the spec/,
    );
    const upd: Change = {
      ...user,
      action: 'update',
      anchor: 'A',
      label: 'ann@x',
      id: 'id1',
      attributes: [{ name: 'jobTitle', after: 'x', flow: 'f' }],
    };
    assert.throws(
      () => checkSavedPlan(input(planOf([del]), planOf([upd]))),
      /a plan made now would change it differently/,
    );
  });

  it('a change elsewhere since the plan is no reason to refuse it: it is counted and left for the next run', () => {
    const other: Change = { ...user, action: 'create', anchor: 'B', label: 'bob@x', attributes: [] };
    const saved = planOf([del]);
    const fresh = planOf([del, other]);
    assert.equal(checkSavedPlan(input(saved, fresh)), saved, 'applies the saved plan, not the fresh one');
    assert.deepEqual(
      furtherChanges(saved, fresh).map((c) => c.label),
      ['bob@x'],
    );
  });

  it('refuses a plan whose integrity fields are missing or altered', () => {
    const withTenant = (p: Plan, tenantId?: string): Plan => ({
      ...p,
      target: { system: 'entra', ...(tenantId ? { tenantId } : {}) },
    });
    const fresh = withTenant(planOf([{ ...del }]), 'tid');
    assert.doesNotThrow(() => checkSavedPlan(input(withTenant(planOf([del]), 'tid'), fresh)));
    assert.throws(
      () => checkSavedPlan(input(withTenant(planOf([del])), fresh)),
      /altered or is incomplete: it names no tenant/,
    );
    const { observed: _o, ...bare } = del;
    assert.throws(
      () => checkSavedPlan(input(withTenant(planOf([bare]), 'tid'), fresh)),
      /lack the digest of the object they touch \(observed\), e\.g\. user ann@x/,
    );
    const hidden = withTenant(planOf([del]), 'tid');
    hidden.summary = { ...hidden.summary, delete: 0 };
    assert.throws(() => checkSavedPlan(input(hidden, fresh)), /its summary does not match its changes/);
  });

  it('resuming: accepts what is left of the plan and applies only that; refuses anything else', () => {
    const add = (anchors: string[]): Change => ({
      kind: 'group',
      target: 'entra',
      rule: 'r',
      action: 'add-members',
      anchor: 'G',
      label: 'G',
      id: 'gid',
      observed: 'o',
      members: anchors.map((a) => ({ anchor: a, kind: 'user', label: a })),
    });
    const saved = planOf([add(['A', 'B', 'C'])]);
    const resume = { done: new Set<string>(), createdIds: new Map<string, string>() };
    const left = checkSavedPlan({ ...input(saved, planOf([add(['C'])])), resume });
    assert.deepEqual(
      left.changes.map((c) => c.action === 'add-members' && c.members.map((m) => m.anchor)),
      [['C']],
    );
    assert.throws(() => checkSavedPlan({ ...input(saved, planOf([add(['D'])])), resume }), /stale/);
    assert.equal(isRemainder([add(['A', 'B'])], []), true, 'all done');
  });
});

describe('saved plans end to end', () => {
  let dir: string;
  let t: Tenant;
  const users = [
    { cn: 'Ann Lee', ou: 'Staff' },
    { cn: 'Bob Ortiz', ou: 'Staff' },
    { cn: 'Cy Park', ou: 'Staff' },
  ];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-saved-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'corp.ldif'), smallLdif(users, [{ cn: 'Staff', members: users.map((u) => u.cn) }]));
    await t.writeSpec({ ldif: 'corp.ldif' });
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("records the spec digest and every touched object's digest, and follows plan.schema.json", async () => {
    await writeFile(
      join(dir, 'corp.ldif'),
      smallLdif(users.slice(0, 2), [{ cn: 'Staff', members: ['Ann Lee', 'Bob Ortiz'] }]),
    );
    const out = join(dir, 'plan.json');
    const r = await t.cli(['plan', '-c', t.spec, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Saved the plan to .*plan\.json/);
    const plan = JSON.parse(await readFile(out, 'utf8')) as Plan;
    assert.match(plan.spec.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      plan.changes.map((c) => `${c.action} ${c.label}`),
      ['delete cy.park@corp.example'],
    );
    assert.ok(plan.changes.every((c) => /^[0-9a-f]{64}$/.test(c.observed ?? '')));
    const schema = JSON.parse(
      await readFile(new URL('../../../schemas/plan.schema.json', import.meta.url), 'utf8'),
    ) as object;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(schema);
    assert.ok(validate(plan), JSON.stringify(validate.errors));
  });

  it('a plan whose object changed in the tenant is refused, naming it, even though a fresh plan has the same changes', async () => {
    const out = join(dir, 'plan.json');
    const saved = JSON.parse(await readFile(out, 'utf8')) as Plan;
    // Someone edits the user the plan deletes, in Entra: nothing the delete shows changes.
    trust(t.emu.certPem);
    const token = await getToken(t.emu);
    const cy = (await t.read()).objects.find((o) => o.attrs['userPrincipalName'] === 'cy.park@corp.example')!;
    const res = await fetch(`${t.emu.url}/v1.0/users/${cy.id}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jobTitle: 'Keep me: on leave' }),
    });
    assert.equal(res.status, 204);
    const fresh = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    const strip = (p: Plan) => p.changes.map(({ observed: _o, ...c }) => c);
    assert.deepEqual(strip(fresh), strip(saved), 'the change list alone would not notice');
    const before = await t.read();
    const r = await t.cli(['apply', '-c', t.spec, out]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Error: the saved plan .*plan\.json is stale: 1 object\(s\) changed since it was made: user cy\.park@corp\.example\n {2}user cy\.park@corp\.example: changed in the target since the plan was made\nHint: run `adsync plan --out` again/,
    );
    assert.deepEqual(
      (await t.read()).objects.map((o) => o.id).sort(),
      before.objects.map((o) => o.id).sort(),
      'nothing applied',
    );
  });

  it('a fresh saved plan applies exactly, and a spec edit makes it stale', async () => {
    const out = join(dir, 'plan.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', out])).code, 0);
    const specText = await readFile(t.spec, 'utf8');
    await writeFile(t.spec, `${specText}\n# a comment is a change to the reviewed spec\n`);
    const stale = await t.cli(['apply', '-c', t.spec, out]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /was made from a different version of the spec/);
    await writeFile(t.spec, specText);
    const ok = await t.cli(['apply', '-c', t.spec, out]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Apply complete: 1 change\(s\) applied, 0 failed/);
    assert.equal(
      (await t.read()).objects.some((o) => o.attrs['userPrincipalName'] === 'cy.park@corp.example'),
      false,
    );
    assert.equal((await t.cli(['plan', '-c', t.spec, '--detailed-exitcode'])).code, 0);
  });
});
