/**
 * Issue 19: writeback can never be turned against AD. Every attribute of the deny-list
 * (src/spec/writeback-denylist.ts) is refused by `adsync validate`, at the flow's FILE:LINE:COL with the reason,
 * in attribute rules and in group rules; `allowProtected` lets a rule write an overridable one, and every plan
 * then carries a warning for it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyAdChanges } from '../support/apply.js';
import { planWriteback } from '../../src/engine/writeback.js';
import { WRITEBACK_DENY_LIST } from '../../src/spec/writeback-denylist.js';
import { GROUP_WRITEBACK_RESERVED } from '../../src/spec/writeback-rules.js';
import type { SourceSpec } from '../../src/spec/types.js';
import { formatPath } from '../../src/spec/positions.js';
import { runCli } from '../support/cli.js';

const HEAD = `version: 1
sources:
  - name: corp
    ldap:
      url: ldaps://dc1.corp.example
      bindDn: CN=sync,DC=corp,DC=example
      password: { env: ADSYNC_LDAP_PASSWORD }
target:
  entra:
    tenantId: { env: AZURE_TENANT_ID }
    credential: { kind: environment }
objects:
  user:
    flows:
      mobilePhone: null
writeback:
`;

async function validate(yaml: string): Promise<{ code: number; lines: string[]; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-deny-'));
  const file = join(dir, 'adsync.yaml');
  await writeFile(file, yaml);
  const r = await runCli(['validate', '-c', file]);
  return { code: r.code, lines: r.stderr.split('\n').filter((l) => l !== ''), file };
}

/** The 1-based line of `key:` (a flow) in the YAML text, after the line that starts `after`. */
function lineOf(yaml: string, key: string, after: string): number {
  const lines = yaml.split('\n');
  const start = lines.findIndex((l) => l.includes(after));
  const i = lines.findIndex((l, n) => n > start && l.trim().startsWith(`${key}:`));
  return i + 1;
}

describe('writeback deny-list, through adsync validate', () => {
  it('refuses every listed attribute in an attribute rule, at FILE:LINE:COL with its reason', async () => {
    const flows = WRITEBACK_DENY_LIST.map((d) => `        ${d.attribute}: source.mobilePhone`).join('\n');
    const yaml = `${HEAD}  - attributes:\n      source: corp\n      flows:\n${flows}\n`;
    const { code, lines, file } = await validate(yaml);
    assert.equal(code, 1);
    for (const d of WRITEBACK_DENY_LIST) {
      const line = lineOf(yaml, d.attribute, 'attributes:');
      const want = `${file}:${line}:9 ${formatPath(['writeback', 0, 'attributes', 'flows', d.attribute])}: `;
      const hit = lines.find((l) => l.startsWith(want));
      assert.ok(hit, `${d.attribute} is not refused at ${want}\n${lines.join('\n')}`);
      assert.ok(
        hit.includes(`${d.attribute} is a protected AD attribute`) && hit.includes(d.reason) && hit.includes(d.source),
        hit,
      );
      assert.ok(hit.includes(d.overridable ? 'allowProtected' : 'can never be written back'), hit);
    }
    assert.equal(lines.filter((l) => l.includes('is a protected AD attribute')).length, WRITEBACK_DENY_LIST.length);
  });

  it("refuses them in a group rule too (except a written-back group's own sAMAccountName and adsync's own attributes, refused as such)", async () => {
    const listed = WRITEBACK_DENY_LIST.filter((d) => !d.existingOnly);
    const flows = listed.map((d) => `        ${d.attribute}: source.displayName`).join('\n');
    const yaml = `${HEAD}  - group:\n      source: corp\n      ou: OU=Cloud,DC=corp,DC=example\n      filter: 'true'\n      flows:\n        sAMAccountName: source.mailNickname\n${flows}\n`;
    const { code, lines, file } = await validate(yaml);
    assert.equal(code, 1);
    for (const d of listed) {
      const line = lineOf(yaml, d.attribute, 'group:');
      const hit = lines.find((l) =>
        l.startsWith(`${file}:${line}:9 ${formatPath(['writeback', 0, 'group', 'flows', d.attribute])}: `),
      );
      assert.ok(hit, `${d.attribute} is not refused in a group rule\n${lines.join('\n')}`);
      assert.ok(
        GROUP_WRITEBACK_RESERVED.has(d.attribute.toLowerCase())
          ? hit.includes('written by adsync itself')
          : hit.includes(d.reason),
        hit,
      );
    }
    assert.ok(
      !lines.some((l) => l.includes('flows.sAMAccountName')),
      'a written-back group is named by its sAMAccountName flow',
    );
  });

  it('allowProtected: an overridable attribute passes, named by the rule; a secret, an unlisted or an unwritten name does not', async () => {
    const ok = `${HEAD}  - attributes:\n      source: corp\n      allowProtected: [scriptPath]\n      flows:\n        scriptPath: source.mobilePhone\n`;
    const good = await validate(ok);
    assert.equal(good.code, 0, good.lines.join('\n'));
    const bad = `${HEAD}  - attributes:\n      source: corp\n      allowProtected: [unicodePwd, mobile, homeDrive]\n      flows:\n        unicodePwd: source.mobilePhone\n        mobile: source.mobilePhone\n`;
    const r = await validate(bad);
    assert.equal(r.code, 1);
    const text = r.lines.join('\n');
    assert.match(text, /:19:24 writeback\[0\]\.attributes\.allowProtected\[0\]: unicodePwd can never be written back/);
    assert.match(text, /:19:36 writeback\[0\]\.attributes\.allowProtected\[1\]: mobile is not a protected attribute/);
    assert.match(
      text,
      /:19:44 writeback\[0\]\.attributes\.allowProtected\[2\]: allows homeDrive, which no flow of this rule writes/,
    );
    assert.match(
      text,
      /:21:9 writeback\[0\]\.attributes\.flows\.unicodePwd: unicodePwd is a protected AD attribute writeback never writes: the account password/,
    );
  });

  it('a plan of a rule with allowProtected carries a warning per allowed attribute, and the change names it', () => {
    const source: SourceSpec = {
      name: 'corp',
      anchor: 'ms-ds-consistencyguid',
      ldap: { url: 'ldaps://dc', bindDn: 'x', password: { env: 'P' }, pageSize: 500 },
      scope: { domains: [], ous: { include: [], exclude: [] }, groups: [] },
    };
    const dn = 'CN=alice,OU=People,DC=corp,DC=example';
    const alice = {
      kind: 'user' as const,
      anchor: 'a1',
      source: 'corp',
      dn,
      ndn: dn.toLowerCase(),
      label: 'alice@corp.example',
      sortKey: 'alice',
      attrs: {},
      provenance: {},
      rule: 'r',
    };
    const out = planWriteback({
      spec: {
        sources: [source],
        writeback: [
          {
            rule: 'attributes',
            index: 0,
            source: 'corp',
            kind: 'user',
            flows: { scriptPath: 'source.city' },
            allowProtected: ['scriptPath'],
          },
        ],
      },
      desired: {
        objects: [alice],
        byAnchor: new Map([['a1', alice]]),
        byDn: new Map([[alice.ndn, alice]]),
        excluded: new Map(),
        held: new Set(),
        reports: [],
      },
      facts: new Map([['a1', { objectGuid: 'AA==', attrs: {} }]]),
      entra: {
        system: 'entra',
        objects: [
          {
            id: 'u1',
            kind: 'user',
            anchor: 'a1',
            attrs: { userPrincipalName: 'alice@corp.example', city: 'logon.cmd' },
          },
        ],
        deleted: [],
      },
      groups: new Map(),
    });
    const warn = out.reports.filter((r) => r.code === 'writeback-protected-allowed');
    assert.equal(warn.length, 1);
    assert.match(
      warn[0]!.reason,
      /^WARNING: writeback\[0\]\.attributes\.allowProtected lets this rule write scriptPath, a protected attribute \(logon script: runs as the user at every logon\)/,
    );
    const c = out.changes[0]!;
    assert.ok(c.action === 'update' && /PROTECTED/.test(c.attributes[0]!.flow), JSON.stringify(c));
  });

  it('apply refuses a plan change that writes a never-writable attribute (a hand-edited saved plan), before any write', async () => {
    let writes = 0;
    const writer = {
      writes: 0,
      add: async () => {
        writes++;
        return 'done' as const;
      },
      modify: async () => {
        writes++;
      },
      members: async () => {
        writes++;
      },
      delete: async () => {
        writes++;
        return 'done' as const;
      },
    };
    const base = {
      kind: 'user' as const,
      anchor: 'a1',
      target: 'ad' as const,
      source: 'corp',
      label: 'alice',
      id: 'CN=alice,DC=corp,DC=example',
    };
    const result = await applyAdChanges({ writerFor: async () => writer }, [
      {
        ...base,
        action: 'update',
        rule: 'writeback[0].attributes',
        attributes: [{ name: 'unicodePwd', after: 'x', flow: 'writeback[0].attributes.flows.unicodePwd' }],
      },
      {
        ...base,
        action: 'update',
        rule: 'writeback[0].attributes',
        attributes: [{ name: 'adminDescription', after: 'Group_x', flow: 'f' }],
      },
      {
        ...base,
        anchor: 'a2',
        action: 'update',
        rule: 'writeback[1].anchor',
        attributes: [{ name: 'mS-DS-ConsistencyGuid', after: 'AA==', flow: 'f' }],
      },
    ]);
    assert.equal(writes, 1, 'only the anchor writeback is sent');
    assert.deepEqual(
      result.failed.map((f) => f.message.split(' (')[0]),
      [
        'refused: unicodePwd is a protected AD attribute writeback never writes',
        'refused: adminDescription is a protected AD attribute writeback never writes',
      ],
    );
  });
});
