/**
 * Entra Connect parity through an LDIF export: every row of the default filter and flow tables
 * (test/parity/cases.ts) is written as an entry of an ldifde-style export, read by the LDIF connector and
 * planned into an empty tenant; then app filtering on the same export.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LdifSource } from '../../src/connectors/ldif/index.js';
import { buildDesired, readRequestFor } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFromDesired } from '../../src/engine/plan.js';
import { emptyTarget, guid, spec as specOf } from '../support/fixtures.js';
import {
  FILTER_CASES,
  FLOW_CASES,
  HELPER_CNS,
  MANAGER_CN,
  caseAttributes,
  consistencyGuid,
  type ParityCase,
} from './cases.js';
import { describeParityTable } from './run.js';

const BASE = 'DC=contoso,DC=example';
const OU = `OU=Parity,${BASE}`;

function escapeRdn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1').replace(/\n/g, '\\0A');
}

function line(name: string, value: string | Uint8Array): string {
  if (value instanceof Uint8Array) return `${name}:: ${Buffer.from(value).toString('base64')}`;
  // LDIF: values that aren't safe strings are base64 (RFC 2849)
  return /^[\x20-\x7e]*$/.test(value) && !/^[ :<]/.test(value) && !/ $/.test(value)
    ? `${name}: ${value}`
    : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

function dnOf(cn: string): string {
  return `CN=${escapeRdn(cn)},${OU}`;
}

function record(c: Pick<ParityCase, 'kind' | 'cn' | 'attrs'>): string {
  const lines = [line('dn', dnOf(c.cn)), 'changetype: add'];
  for (const [name, values] of Object.entries(caseAttributes(c, dnOf)))
    for (const value of values) lines.push(line(name, value));
  lines.push(line('objectGUID', guid(c.cn)));
  return lines.join('\n');
}

/** The export: the cases, a manager, and three users to fill the group over the member limit. */
export function parityLdif(cases: readonly ParityCase[]): string {
  const out = [
    `dn: ${OU}\nchangetype: add\nobjectClass: top\nobjectClass: organizationalUnit\nou: Parity`,
    record({ kind: 'user', cn: MANAGER_CN, attrs: {} }),
    ...HELPER_CNS.map((cn) => record({ kind: 'user', cn, attrs: {} })),
    ...cases.map((c) => record(c)),
  ];
  return `version: 1\n\n${out.join('\n\n')}\n`;
}

const anchorOfCase = (c: Pick<ParityCase, 'cn' | 'attrs'>): string =>
  Buffer.from(c.attrs['mS-DS-ConsistencyGuid'] !== undefined ? consistencyGuid(c.cn) : guid(c.cn)).toString('base64');

let dir: string | undefined;
describeParityTable('Entra Connect parity through LDIF: one case per row of the default filter and flow tables', {
  async setup() {
    const cases = [...FILTER_CASES, ...FLOW_CASES];
    const anchors = new Map<string, string>([[MANAGER_CN, Buffer.from(guid(MANAGER_CN)).toString('base64')]]);
    for (const c of cases) anchors.set(c.cn, anchorOfCase(c));
    dir = await mkdtemp(join(tmpdir(), 'adsync-parity-'));
    const path = join(dir, 'parity.ldif');
    await writeFile(path, parityLdif(cases));
    const s = specOf({ memberLimit: 2 });
    const flows = compileFlows(s);
    const snap = await new LdifSource({ name: 'corp', path }).read(readRequestFor(s.sources[0]!, flows));
    const desired = buildDesired(s, [snap], flows);
    const plan = planFromDesired({
      spec: s,
      specPath: 'adsync.yaml',
      desired,
      target: emptyTarget(),
      toolVersion: 'test',
      now: new Date(0),
    }).plan;
    return { plan, desired, anchors, managerCn: MANAGER_CN, domain: 'contoso.example' };
  },
  async teardown() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});

describe('app and attribute filtering through LDIF', () => {
  let dir: string;
  let path: string;
  const c: ParityCase = {
    row: 'app filtering',
    kind: 'user',
    cn: 'pa-user',
    attrs: {
      title: 'Engineer',
      telephoneNumber: '+1',
      employeeID: '42',
      extensionAttribute1: 'x',
      department: 'R&D',
      manager: '@manager',
    },
    expect: { values: {} },
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-parity-apps-'));
    path = join(dir, 'apps.ldif');
    await writeFile(path, parityLdif([c]));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function attrsWith(
    applications: string[],
    flows: Record<string, string | null> = {},
  ): Promise<Record<string, unknown>> {
    const s = specOf({ applications, flows: { user: flows } });
    const compiled = compileFlows(s);
    const snap = await new LdifSource({ name: 'corp', path }).read(readRequestFor(s.sources[0]!, compiled));
    const d = buildDesired(s, [snap], compiled);
    const p = planFromDesired({
      spec: s,
      specPath: 'adsync.yaml',
      desired: d,
      target: emptyTarget(),
      toolVersion: 'test',
      now: new Date(0),
    }).plan;
    const create = p.changes.find((ch) => ch.action === 'create' && ch.anchor === anchorOfCase(c));
    assert.ok(create && create.action === 'create');
    return Object.fromEntries(create.attributes.map((a) => [a.name, a.after]));
  }

  it('no applications: every default flow', async () => {
    const a = await attrsWith([]);
    for (const name of [
      'jobTitle',
      'businessPhones',
      'employeeId',
      'onPremisesExtensionAttributes.extensionAttribute1',
      'department',
      'manager',
    ])
      assert.ok(name in a, name);
  });

  it('office-365-proplus only: just the identity flows Graph needs (its set has no title, phone, department, manager)', async () => {
    const a = await attrsWith(['office-365-proplus']);
    assert.deepEqual(Object.keys(a).sort(), [
      'accountEnabled',
      'displayName',
      'mailNickname',
      'onPremisesImmutableId',
      'userPrincipalName',
    ]);
  });

  it('third-party-applications: employeeID flows, title does not', async () => {
    const a = await attrsWith(['third-party-applications']);
    assert.equal(a.employeeId, '42');
    assert.ok(!('jobTitle' in a));
    assert.ok(!('onPremisesExtensionAttributes.extensionAttribute1' in a));
  });

  it('exchange-online: title, phones, manager and extension attributes flow', async () => {
    const a = await attrsWith(['exchange-online']);
    for (const name of [
      'jobTitle',
      'businessPhones',
      'department',
      'manager',
      'onPremisesExtensionAttributes.extensionAttribute1',
    ])
      assert.ok(name in a, name);
  });

  it('a custom flow overrides app filtering for its attribute', async () => {
    const a = await attrsWith(['office-365-proplus'], { jobTitle: 'upper(source.title)' });
    assert.equal(a.jobTitle, 'ENGINEER');
  });
});
