/**
 * Golden plans of the AD example (examples/ad-to-entra/adsync.yaml, as written) on Samba AD and the Graph
 * emulator: `adsync plan`, `-f json` and `-f markdown`, byte for byte against test/fixtures/ad-example/, for an
 * empty tenant (creates) and, after that plan is applied, for a round of AD edits (updates, a delete,
 * membership changes, a create). Issue 11's "the plan output of the AD example is byte-identical before and
 * after the change" is this test: a change to any plan output shows here as a diff of the golden.
 *
 * What differs from one run to the next is replaced before the comparison, and only that (normalize()):
 *   - the run's unique suffix in OU names, CNs, UPNs, sAMAccountNames and mail   → SFX
 *   - each objectGUID-based anchor (base64, Samba draws a new GUID per add)       → <guid:N>
 *   - each objectSid (S-1-5-21-<domain>-<RID>: per provisioning and per add)      → <sid:N>
 *     (N numbers the values by their first appearance in the JSON plan; the same N in all three formats)
 *   - ISO timestamps (createdAt, the disable mark's date)                         → <time>
 *   - UUIDs (the emulator's tenant and object ids)                                → <uuid>
 *   - extension_<appId>_ names (the emulator's extension app id)                 → extension_<app>_
 *   - the DC's update sequence numbers (USN n, in the plan's read line)           → USN <usn>
 *   - the sizes of the incremental state's parts (gzip of the above; `read.saved`)  → <bytes>
 *   - the changes' attribute digests (22 base64url: they cover the anchors)       → <attributes-digest>
 *   - 64-hex digests (the spec digest binds the resolved environment; observed and attribute digests
 *     cover the ids and anchors above)                                           → <sha256>
 * Plans read with --full: an incremental read's reason names whatever changed on the shared DC since the
 * last read (other suites' objects). Anything else that moves is a real difference.
 *
 * Regenerate after a deliberate output change (and review the diff):
 *   ADSYNC_GOLDEN_WRITE=1 npx node --test dist/test/e2e/ad-example-golden.test.js
 * Capture another build's output to compare by hand (e.g. a `git worktree` at an older commit, built):
 *   ADSYNC_GOLDEN_WRITE=/tmp/old ADSYNC_GOLDEN_BIN=/path/to/old/bin/run.js npx node --test dist/test/e2e/ad-example-golden.test.js
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Attribute, Change as LdapChange, type Client } from 'ldapts';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli, type CliResult } from '../support/cli.js';
import { sambaSkipReason, type SambaDc } from '../support/samba.js';
import { closeSambaCli, openSamba, startCliEmulator } from '../support/samba-cli.js';
import {
  GROUP_GLOBAL_SECURITY,
  GROUP_UNIVERSAL_DISTRIBUTION,
  GROUP_UNIVERSAL_SECURITY,
  addContact,
  addGroup,
  addMembers,
  addOu,
  addUser,
  uniqueSuffix,
} from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/ad-to-entra/adsync.yaml', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../../test/fixtures/ad-example/', import.meta.url));
const WRITE = process.env['ADSYNC_GOLDEN_WRITE'];
const BIN = process.env['ADSYNC_GOLDEN_BIN'];

const FORMATS = [
  ['text', []],
  ['json', ['-f', 'json']],
  ['md', ['-f', 'markdown']],
] as const;

/** The per-run values, replaced as the file header says. `json` is the JSON plan the numbering follows. */
export function normalize(output: string, json: string, sfx: string): string {
  const numbered = (values: Iterable<string>, name: string, into: Map<string, string>): void => {
    for (const v of values) if (!into.has(v)) into.set(v, `<${name}:${into.size + 1}>`);
  };
  const plan = JSON.parse(json) as Plan;
  const guids = new Map<string, string>();
  const anchors: string[] = [];
  for (const c of plan.changes) {
    anchors.push(c.anchor);
    if (c.action === 'add-members' || c.action === 'remove-members') anchors.push(...c.members.map((m) => m.anchor));
  }
  for (const r of plan.reports) if (r.anchor !== undefined) anchors.push(r.anchor);
  // Anchors are base64 GUIDs (24 characters, '=='-padded); the emulator's ids are UUIDs, replaced below.
  numbered(
    anchors.filter((a) => /^[A-Za-z0-9+/]{22}==$/.test(a)),
    'guid',
    guids,
  );
  const sids = new Map<string, string>();
  numbered(json.match(/S-1-5-21-\d+-\d+-\d+-\d+/g) ?? [], 'sid', sids);
  let out = output;
  for (const [v, n] of [...guids, ...sids]) out = out.split(v).join(n);
  return out
    .split(sfx)
    .join('SFX')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/extension_[0-9a-f]{32}_/g, 'extension_<app>_')
    .replace(/\bUSN \d+/g, 'USN <usn>')
    .replace(/("sync-[\w-]+\.json\.gz": )\d+/g, '$1<bytes>')
    .replace(/"digest":"[\w-]{22}"/g, '"digest":"<attributes-digest>"')
    .replace(/\b[0-9a-f]{64}\b/g, '<sha256>');
}

describe('golden plans of the AD example (Samba, CLI): text, json, markdown', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let people: string;
  let outside: string;
  const sfx = uniqueSuffix();
  const upn = (local: string): string => `${local}.${sfx}@contoso.test`;
  const dns: Record<string, string> = {};

  before(async () => {
    ({ dc, admin } = await openSamba());
    const root = await addOu(admin, `adsync-golden-${sfx}`, dc.baseDn);
    outside = await addOu(admin, `adsync-golden-out-${sfx}`, dc.baseDn);
    people = await addOu(admin, 'People', root);
    const groups = await addOu(admin, 'Groups', root);
    const user = async (key: string, cn: string, attrs: Record<string, string> = {}, enabled = false) => {
      dns[key] = await addUser(admin, people, {
        cn,
        sam: `${key.slice(0, 8)}${sfx}`,
        upn: upn(key),
        enabled,
        attrs: { displayName: cn, ...attrs },
      });
    };
    await user('alice', 'Alice Anders', {
      givenName: 'Alice',
      sn: 'Anders',
      title: 'Engineer',
      department: 'R&D',
      mail: `alice.${sfx}@contoso.test`,
      telephoneNumber: '+1 555 0100',
    });
    await user('bob', 'Bob Berg', { givenName: 'Bob', sn: 'Berg', title: 'Designer' }, true);
    await user('carol', 'Smith, Carol', { department: 'Sales' });
    await user('dan', 'Zoë Ærøskøbing 山田');
    await admin.modify(
      dns['carol']!,
      new LdapChange({
        operation: 'replace',
        modification: new Attribute({ type: 'manager', values: [dns['alice']!] }),
      }),
    );
    dns['contact'] = await addContact(admin, people, 'Partner, External', {
      mail: `partner.${sfx}@fabrikam.example`,
      displayName: 'Partner, External',
    });
    // sAMAccountName given (addGroup draws one otherwise): it is the groups' mailNickname.
    dns['team'] = await addGroup(admin, groups, 'Team', GROUP_GLOBAL_SECURITY, {
      displayName: `Team ${sfx}`,
      sAMAccountName: `team${sfx}`,
    });
    dns['outer'] = await addGroup(admin, groups, 'Outer', GROUP_UNIVERSAL_SECURITY, {
      displayName: `Outer #Nested ${sfx}`,
      description: 'nested groups',
      sAMAccountName: `outer${sfx}`,
    });
    dns['dl'] = await addGroup(admin, groups, 'All Staff', GROUP_UNIVERSAL_DISTRIBUTION, {
      mail: `allstaff.${sfx}@contoso.test`,
      mailNickname: `allstaff${sfx}`,
      sAMAccountName: `allstaff${sfx}`,
    });
    await addMembers(admin, dns['team'], [dns['alice']!, dns['bob']!, dns['carol']!]);
    await addMembers(admin, dns['outer'], [dns['team'], dns['dan']!]);
    await addMembers(admin, dns['dl'], [dns['alice']!]);
    ({ emu, dir, env } = await startCliEmulator(dc, { prefix: 'adsync-golden-', baseDn: root }));
    // The spec as the example has it, under a path that is the same for every run and every build.
    await copyFile(EXAMPLE, join(dir, 'adsync.yaml'));
  });

  after(async () => closeSambaCli({ admin, emu, dc, dir }));

  const cli = (args: string[]): Promise<CliResult> =>
    runCli([...args, '-c', 'adsync.yaml'], { cwd: dir, env, ...(BIN ? { bin: BIN } : {}) });

  async function compare(name: string): Promise<void> {
    const outputs = new Map<string, string>();
    for (const [ext, flags] of FORMATS) {
      // --full: an incremental read's reason names what changed on the DC, which other suites share.
      const r = await cli(['plan', '--full', ...flags]);
      assert.equal(r.code, 0, r.stderr);
      outputs.set(ext, r.stdout);
    }
    const json = outputs.get('json')!;
    const problems: string[] = [];
    for (const [ext, raw] of outputs) {
      const file = `${name}.${ext}`;
      const got = normalize(raw, json, sfx);
      if (WRITE !== undefined && WRITE !== '') {
        const to = WRITE === '1' ? GOLDEN : WRITE;
        await mkdir(to, { recursive: true });
        await writeFile(join(to, file), got);
        continue;
      }
      const want = await readFile(join(GOLDEN, file), 'utf8');
      if (got !== want) problems.push(`${file}:\n${firstDifference(want, got)}`);
    }
    assert.deepEqual(problems, [], 'the plan output differs from its golden (see the header to regenerate)');
  }

  it('an empty tenant: every object created', async () => {
    await compare('create');
  });

  it('after the apply, a round of AD edits: updates, a delete, membership changes, a create', async () => {
    const applied = await cli(['apply', '--auto-approve']);
    assert.equal(applied.code, 0, applied.stdout.slice(-3000) + applied.stderr);
    const replace = (dn: string, type: string, values: string[]) =>
      admin.modify(dn, new LdapChange({ operation: 'replace', modification: new Attribute({ type, values }) }));
    await replace(dns['alice']!, 'title', ['Lead Engineer']);
    await replace(dns['bob']!, 'userAccountControl', ['514']); // disabled
    await admin.modify(
      dns['outer']!,
      new LdapChange({ operation: 'delete', modification: new Attribute({ type: 'description' }) }),
    );
    await admin.modifyDN(dns['dan']!, `CN=Zoë Ærøskøbing 山田,${outside}`); // out of the base DN: deleted
    await admin.modify(
      dns['team']!,
      new LdapChange({ operation: 'delete', modification: new Attribute({ type: 'member', values: [dns['carol']!] }) }),
    );
    dns['erin'] = await addUser(admin, people, {
      cn: 'Erin Eck',
      sam: `erin${sfx}`,
      upn: upn('erin'),
      enabled: false,
      attrs: { displayName: 'Erin Eck' },
    });
    await addMembers(admin, dns['dl']!, [dns['erin']]);
    await compare('change');
  });
});

/** The first line where two texts differ, with its neighbours, for the failure message. */
function firstDifference(want: string, got: string): string {
  const a = want.split('\n');
  const b = got.split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i === -1 ? Math.min(a.length, b.length) : i;
  return [`line ${at + 1}:`, `- ${a[at] ?? '(end)'}`, `+ ${b[at] ?? '(end)'}`].join('\n');
}
