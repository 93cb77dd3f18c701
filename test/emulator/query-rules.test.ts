/**
 * The advanced-query table (src/emulator/query-rules.ts), walked row by row: every operator of every row is
 * tried without and with the advanced parameters, and must get what the row's source says — 200 when the
 * operator works by default, 400 Request_UnsupportedQuery without and 200 with `ConsistencyLevel: eventual` +
 * `$count=true` when it is advanced-only, and 400 Request_UnsupportedQuery even with them when the source
 * doesn't list it. Docs: https://learn.microsoft.com/graph/aad-advanced-queries and the user/group resource pages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_OPS,
  EXTENSION_RULE,
  FILTER_RULES,
  type FilterOp,
  type FilterRule,
} from '../../src/emulator/query-rules.js';
import { errorOf, harness, type Harness } from './helpers.js';

const ADVANCED = { ConsistencyLevel: 'eventual' };

function literal(rule: Pick<FilterRule, 'type'>): string {
  switch (rule.type) {
    case 'bool':
    case 'syncBehavior':
      return 'true';
    case 'date':
      return '2026-01-01T00:00:00Z';
    case 'guid':
    case 'license':
      return "'6fd2c87f-b296-42f0-b197-1e91e994b900'";
    default:
      return "'v'";
  }
}

/** The `$filter` that uses exactly this operator on this property. */
export function filterFor(rule: Pick<FilterRule, 'type' | 'property'>, op: FilterOp): string {
  const v = literal(rule);
  const leaf = (p: string): string => {
    switch (op) {
      case 'eq':
      case 'not':
        return `${p} eq ${v}`;
      case 'ne':
        return `${p} ne ${v}`;
      case 'in':
        return `${p} in (${v}, ${v})`;
      case 'ge':
        return `${p} ge ${v}`;
      case 'le':
        return `${p} le ${v}`;
      case 'startsWith':
        return `startsWith(${p},'v')`;
      case 'endsWith':
        return `endsWith(${p},'v')`;
      case 'eqNull':
        return `${p} eq null`;
      case 'count':
        return `${p}/$count eq 0`;
    }
  };
  if (op === 'count') return `${rule.property}/$count eq 0`;
  let expr: string;
  if (rule.type === 'strings') expr = `${rule.property}/any(x:${leaf('x')})`;
  else if (rule.type === 'license') expr = `${rule.property}/any(x:${leaf('x/skuId')})`;
  else if (rule.type === 'extensionAttribute') expr = leaf(`${rule.property}/extensionAttribute1`);
  else if (rule.type === 'syncBehavior') expr = leaf(`${rule.property}/isCloudManaged`);
  else expr = leaf(rule.property);
  return op === 'not' ? `not(${expr})` : expr;
}

describe('emulator: advanced-query rules, one test per row of the table', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  for (const rule of FILTER_RULES) {
    // Source: rule.source (a Learn URL per row).
    it(`${rule.entity}.${rule.property}: ${rule.basic.join(' ') || '-'} | advanced ${rule.advanced.join(' ') || '-'} (${rule.source})`, async () => {
      const set = rule.entity === 'user' ? '/users' : '/groups';
      for (const op of ALL_OPS) {
        const q = `${set}?$filter=${encodeURIComponent(filterFor(rule, op))}`;
        const plain = await h.get(q);
        const adv = await h.get(`${q}&$count=true`, ADVANCED);
        const what = `${op} → ${plain.status}/${adv.status} ${JSON.stringify(plain.body?.error?.message ?? '')}`;
        if (rule.basic.includes(op)) {
          assert.equal(plain.status, 200, what);
          assert.equal(adv.status, 200, what);
        } else if (rule.advanced.includes(op)) {
          assert.equal(plain.status, 400, what);
          assert.equal(errorOf(plain).code, 'Request_UnsupportedQuery', what);
          assert.equal(adv.status, 200, what);
          assert.equal(typeof adv.body['@odata.count'], 'number', what);
        } else {
          assert.equal(adv.status, 400, what);
          assert.equal(errorOf(adv).code, 'Request_UnsupportedQuery', what);
        }
      }
    });
  }

  // The directory-extension row (EXTENSION_RULE's source): eq works by default, startsWith only as an advanced query.
  it(`directory extensions: ${EXTENSION_RULE.basic.join(' ')} | advanced ${EXTENSION_RULE.advanced.join(' ')} (${EXTENSION_RULE.source})`, async () => {
    const ext = await h.call('POST', `/applications/${h.emu.applicationObjectId}/extensionProperties`, {
      name: 'costCenter',
      dataType: 'String',
      targetObjects: ['User'],
    });
    assert.equal(ext.status, 201);
    const rule = { ...EXTENSION_RULE, property: ext.body.name as string };
    for (const op of ALL_OPS) {
      const q = `/users?$filter=${encodeURIComponent(filterFor(rule, op))}`;
      const plain = await h.get(q);
      const adv = await h.get(`${q}&$count=true`, ADVANCED);
      const what = `${op} → ${plain.status}/${adv.status}`;
      if (rule.basic.includes(op)) assert.deepEqual([plain.status, adv.status], [200, 200], what);
      else if (rule.advanced.includes(op)) assert.deepEqual([plain.status, adv.status], [400, 200], what);
      else assert.equal(adv.status, 400, what);
    }
  });

  // user.md assignedLicenses: `/$count eq 0` (advanced) finds users without licences.
  it('assignedLicenses/$count eq 0 (advanced) finds the unlicensed users', async () => {
    const u = await h.newUser('nolicense');
    const r = await h.get(
      `/users?$filter=${encodeURIComponent('assignedLicenses/$count eq 0')}&$count=true&$select=id`,
      ADVANCED,
    );
    assert.equal(r.status, 200);
    assert.ok(r.body.value.some((x: { id: string }) => x.id === u));
    const none = await h.get(
      `/users?$filter=${encodeURIComponent('assignedLicenses/$count ne 0')}&$count=true&$select=id`,
      ADVANCED,
    );
    assert.ok(!none.body.value.some((x: { id: string }) => x.id === u));
  });

  it('an advanced-only operator names itself and the fix (aad-advanced-queries error table)', async () => {
    const r = await h.get(`/users?$filter=${encodeURIComponent("endsWith(mail,'@contoso.example')")}`);
    assert.equal(r.status, 400);
    assert.equal(
      errorOf(r).message,
      "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
    );
  });

  it('eq on onPremisesSamAccountName without the parameters → the property clause message (Microsoft Q&A 577870)', async () => {
    const r = await h.get(`/users?$filter=${encodeURIComponent("onPremisesSamAccountName eq 'alice'")}`);
    assert.equal(r.status, 400);
    assert.equal(
      errorOf(r).message,
      "Unsupported or invalid query filter clause specified for property 'onPremisesSamAccountName' of resource 'User'.",
    );
  });

  // user.md lists no $filter for these: refused even as advanced queries.
  for (const p of ['onPremisesDistinguishedName', 'onPremisesDomainName', 'preferredDataLocation']) {
    it(`${p} can't be filtered at all (user.md lists no $filter)`, async () => {
      const r = await h.get(`/users?$filter=${encodeURIComponent(`${p} eq 'x'`)}&$count=true`, ADVANCED);
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).code, 'Request_UnsupportedQuery');
    });
  }
});
