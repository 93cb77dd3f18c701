/**
 * Directory values can't forge the plan (issue 17): a user may edit their own attributes in AD, so terminal
 * escape codes, carriage returns, newlines and bidi overrides in a value, a label or a DN are printed
 * escaped in every format (text, markdown; JSON escapes them by itself), including the plan apply shows
 * before it asks for confirmation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { safetyStage } from '../../src/engine/stages/safety.js';
import type { Change, ReportItem } from '../../src/model/change.js';
import { summarize, type Plan } from '../../src/model/plan.js';
import { escapeUnsafe, safeText } from '../../src/render/escape.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { COLOR, PLAIN } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { smallLdif, startTenant, type Tenant } from '../support/tenant.js';

const ERASE = '\u001b[2K\r';
const FAKE_LINE = '\n  + create user fake@corp.example\n\nPlan: 0 to create, 0 to update, 0 to restore, 0 to delete';
const RLO = '\u202e';
/** Anything a terminal or a markdown viewer would interpret rather than show. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

function hostilePlan(): Plan {
  const label = `mallory${RLO}moc.elpmaxe@`;
  const changes: Change[] = [
    {
      action: 'update',
      kind: 'user',
      anchor: 'M',
      target: 'entra',
      id: 'm1',
      label,
      rule: 'r',
      sourceDn: `CN=Mallory${ERASE},OU=Staff,DC=corp,DC=example`,
      attributes: [
        {
          name: 'streetAddress',
          before: '1 Main St',
          after: `1 Main St${ERASE}${FAKE_LINE}`,
          flow: 'default user.streetAddress',
        },
        { name: 'jobTitle', before: 'Engineer', after: `Chief${RLO}Architect`, flow: 'default user.jobTitle' },
        { name: 'department', before: 'IT', after: { anchor: 'X', kind: 'user', label: `boss${ERASE}` }, flow: 'f' },
      ],
    },
    {
      action: 'delete',
      kind: 'user',
      anchor: 'V',
      target: 'entra',
      id: 'v1',
      label: 'victim@corp.example',
      rule: 'r',
      reason: `gone${ERASE}`,
    },
    {
      action: 'add-members',
      kind: 'group',
      anchor: 'G',
      target: 'entra',
      id: 'g1',
      label: `Staff${FAKE_LINE}`,
      rule: 'r',
      members: [{ anchor: 'M', kind: 'user', label: label }],
    },
  ];
  const reports: ReportItem[] = [
    {
      code: 'x',
      kind: 'user',
      target: 'entra',
      label: `eve${ERASE}`,
      reason: `because${FAKE_LINE}`,
      other: { label: `o${RLO}` },
    },
  ];
  return {
    formatVersion: 1,
    tool: { name: 'adsync', version: 't' },
    createdAt: '2026-01-01T00:00:00.000Z',
    spec: { path: 'adsync.yaml', digest: 'd'.repeat(64) },
    target: { system: 'entra', tenantId: 'tid' },
    changes,
    reports,
    summary: summarize(changes, reports),
    managed: 10,
  };
}

describe('control characters are escaped', () => {
  it('escapeUnsafe and safeText: visible escapes, quoted when anything was escaped', () => {
    assert.equal(escapeUnsafe(`a${ERASE}b\n${RLO}\u0085\u2028`), 'a\\u001b[2K\\rb\\n\\u202e\\u0085\\u2028');
    assert.equal(safeText('Lee\\, Ann'), 'Lee\\, Ann', 'a safe DN is left alone');
    assert.equal(safeText(`a"b\\${RLO}`), '"a\\"b\\\\\\u202e"');
    assert.equal(safeText('Zoë Müller 李'), 'Zoë Müller 李');
  });

  for (const [name, render] of [
    ['text (plain)', (p: Plan) => renderText(p, PLAIN)],
    ['text (colour)', (p: Plan) => renderText(p, COLOR)],
    ['markdown', renderMarkdown],
  ] as const) {
    it(`${name}: nothing interpretable, one summary, the delete still shown`, () => {
      let out = render(hostilePlan());
      if (name === 'text (colour)') out = out.replace(/\u001b\[[0-9;]*m/g, ''); // adsync's own SGR colours only
      assert.doesNotMatch(out, RAW);
      assert.doesNotMatch(out, /^\s*\+ create user fake/m, 'no forged change line');
      assert.doesNotMatch(out, /^\W*Plan: 0 to create, 0 to update/m, 'no forged summary');
      assert.match(out, /victim@corp\.example/);
      assert.match(out, /\\u001b\[2K\\r/, 'the escape code shows as text');
      assert.match(out, /\\u202e/);
    });
  }
});

describe('text diffs at a glance', () => {
  it('a short value as "old" → "new" (terraform-style), a word diff only for long text, adsync\'s extensions by name', () => {
    const long = 'Responsible for the platform team, the build pipeline and the release process of the product';
    const changes: Change[] = [
      {
        action: 'update',
        kind: 'user',
        anchor: 'A',
        target: 'entra',
        id: 'a1',
        label: 'ann@corp.example',
        rule: 'r',
        attributes: [
          { name: 'jobTitle', before: 'Principal Engineer', after: 'Chief Architect', flow: 'default user.jobTitle' },
          { name: 'aboutMe', before: long, after: long.replace('release', 'deployment'), flow: 'f' },
          { name: 'extension_0123456789abcdef0123456789abcdef_adsyncDeleteAfter', after: '2026-01-08', flow: 'g' },
        ],
      },
    ];
    const out = renderText({ ...hostilePlan(), changes, reports: [], summary: summarize(changes, []) }, PLAIN);
    assert.match(out, /~ jobTitle +~?= "Principal Engineer" → "Chief Architect"/);
    assert.match(out, /the \[-release-\]\{\+deployment\+\} process/);
    assert.match(out, /\+ adsyncDeleteAfter += "2026-01-08"/);
    assert.doesNotMatch(out, /extension_0123/);
  });

  it('a plan apply would refuse says so under its summary', () => {
    const plan = hostilePlan(); // 1 delete of 10 managed
    const safety = { maxDeletes: 0, deleteMode: 'delete' as const, deleteGraceDays: 7 };
    assert.match(
      renderText(plan, PLAIN, safetyStage(plan, safety, undefined)),
      /\nGuard rails: apply will stop before any write unless run with --force:\n {2}- the plan deletes 1 objects, over safety\.maxDeletes \(0\)\n$/,
    );
    assert.doesNotMatch(renderText(plan, PLAIN, safetyStage(plan, { ...safety, maxDeletes: 5 }, undefined)), /refuse/);
  });
});

describe('control characters through the CLI', () => {
  let dir: string;
  let t: Tenant;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-escape-'));
    t = await startTenant(dir);
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    const hostile = [
      'dn: CN=Mallory,OU=Staff,DC=corp,DC=example',
      'changetype: add',
      'objectClass: top',
      'objectClass: person',
      'objectClass: organizationalPerson',
      'objectClass: user',
      'cn: Mallory',
      'sAMAccountName: mallory',
      'userPrincipalName: mallory@corp.example',
      `displayName:: ${b64(`Mallory${RLO}yrollaM`)}`,
      `streetAddress:: ${b64(`1 Main St${ERASE}${FAKE_LINE}`)}`,
      'userAccountControl: 512',
      `objectGUID:: ${Buffer.from('u-Mallory.......').toString('base64')}`,
    ].join('\n');
    await writeFile(join(dir, 'corp.ldif'), `${smallLdif([{ cn: 'Ann Lee', ou: 'Staff' }], [])}${hostile}\n\n`);
    await t.writeSpec({ ldif: 'corp.ldif' });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('plan (text and markdown) and the plan apply shows before confirming print the values escaped', async () => {
    const outputs = [
      (await t.cli(['plan', '-c', t.spec])).stdout,
      (await t.cli(['plan', '-c', t.spec, '--format', 'markdown'])).stdout,
      (await t.cli(['apply', '-c', t.spec])).stdout, // no terminal: shows the plan, then refuses to go on
    ];
    for (const out of outputs) {
      assert.match(out, /mallory@corp\.example/);
      assert.doesNotMatch(out, RAW);
      assert.doesNotMatch(out, /^\s*\+ create user fake/m);
      assert.match(out, /1 Main St\\u001b\[2K\\r\\n {2}\+ create user fake/);
      assert.match(out, /Mallory\\u202eyrollaM/);
    }
    assert.equal(outputs[0]!.match(/^Plan: /gm)?.length, 1, 'one summary');
  });
});
