/**
 * Entra Connect parity through a real AD: every row of the default filter and flow tables (test/parity/cases.ts)
 * seeded into the shared Samba AD DC over LDAP, read back by the AD connector and planned into an empty tenant,
 * checked by the same assertions as the LDIF run (run.ts). Cases Samba can't create say why and are skipped;
 * isCriticalSystemObject, which only the DC sets, is checked on built-in objects (Administrator, Domain Admins).
 *
 * The cases use fixed sAMAccountNames (SUPPORT_388945a0, MSOL_AD_Sync_RichCoexistence…), unique per domain, so
 * the file holds a lock on the DC while its OU exists, removes OUs a crashed run left, and deletes its own.
 */
import type { Client } from 'ldapts';
import { AdSource } from '../../src/connectors/ad/index.js';
import { buildDesired, readRequestFor } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFromDesired } from '../../src/engine/plan.js';
import { escapeDnValue } from '../../src/model/dn.js';
import type { Spec } from '../../src/spec/types.js';
import { emptyTarget, spec as specOf } from '../support/fixtures.js';
import type { SambaDc } from '../support/samba.js';
import { adminClient, sambaEnv, sambaSkipReason, sambaSourceSpec, startSamba } from '../support/samba.js';
import {
  ACCOUNTDISABLE,
  EXCHANGE_EXTRA_ATTRIBUTES,
  addEntry,
  addOu,
  deleteTree,
  ensureSchemaAttributes,
  lockDc,
  parallelSeed,
  uniqueSuffix,
  unicodePwd,
  type Attrs,
} from '../support/samba-seed.js';
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

const skip = await sambaSkipReason();
const OU_PREFIX = 'adsync-parity-';
const PASSWORD = 'Parity-Seed-Pa55!';

/** A case's entry as an LDAP add: enabled users get a password in the same add, as AD requires. */
function ldapAttrs(c: Pick<ParityCase, 'kind' | 'cn' | 'attrs'>, dnOf: (cn: string) => string): Attrs {
  const out: Attrs = {};
  for (const [name, values] of Object.entries(caseAttributes(c, dnOf))) {
    out[name] = values.every((v) => typeof v === 'string') ? values : values.map((v) => Buffer.from(v));
  }
  const uac = out['userAccountControl'];
  if (c.kind === 'user' && typeof uac?.[0] === 'string' && (Number(uac[0]) & ACCOUNTDISABLE) === 0)
    out['unicodePwd'] = unicodePwd(PASSWORD);
  return out;
}

let dc: SambaDc | undefined;
let admin: Client | undefined;
let release: (() => Promise<void>) | undefined;
let root: string | undefined;

describeParityTable('Entra Connect parity through Samba AD: one case per row of the default filter and flow tables', {
  skip,
  skipCase: (c) => c.sambaSkip,
  async setup() {
    dc = await startSamba();
    admin = await adminClient(dc);
    await ensureSchemaAttributes(admin, dc.baseDn, EXCHANGE_EXTRA_ATTRIBUTES);
    release = await lockDc(dc, 'parity');
    // What a crashed run of this file left (nobody else holds the lock, so nobody else uses it).
    const stale = await admin.search(dc.baseDn, {
      scope: 'one',
      filter: `(&(objectClass=organizationalUnit)(ou=${OU_PREFIX}*))`,
      attributes: ['1.1'],
    });
    for (const e of stale.searchEntries) await deleteTree(admin, e.dn);

    const ou = await addOu(admin, `${OU_PREFIX}${uniqueSuffix()}`, dc.baseDn);
    root = ou;
    const dnOf = (cn: string) => `CN=${escapeDnValue(cn)},${ou}`;
    const cases = [...FILTER_CASES, ...FLOW_CASES];
    const seeded = cases.filter((c) => !c.sambaSkip && !c.sambaBuiltin);
    // The manager and the group members first: AD checks that a DN reference names an existing object.
    for (const cn of [MANAGER_CN, ...HELPER_CNS])
      await addEntry(admin, dnOf(cn), ldapAttrs({ kind: 'user', cn, attrs: {} }, dnOf));
    await parallelSeed(
      dc,
      seeded,
      async (client, c) => {
        await addEntry(client, dnOf(c.cn), ldapAttrs(c, dnOf));
      },
      1,
      16,
    );

    // Anchors as AD assigned them, read independently of the connector under test.
    const anchors = new Map<string, string>();
    const guids = await admin.search(ou, {
      scope: 'sub',
      filter: '(objectGUID=*)',
      attributes: ['cn', 'objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
    });
    for (const e of guids.searchEntries)
      anchors.set(String(e['cn']), Buffer.from(e['objectGUID'] as Buffer).toString('base64'));
    for (const c of seeded)
      if (c.attrs['mS-DS-ConsistencyGuid'] !== undefined)
        anchors.set(c.cn, Buffer.from(consistencyGuid(c.cn)).toString('base64'));
    const builtins: string[] = [];
    for (const c of cases) {
      if (!c.sambaBuiltin) continue;
      const dn = `${c.sambaBuiltin},${dc.baseDn}`;
      builtins.push(dn);
      const { searchEntries } = await admin.search(dn, {
        scope: 'base',
        attributes: ['objectGUID'],
        explicitBufferAttributes: ['objectGUID'],
      });
      anchors.set(c.cn, Buffer.from(searchEntries[0]!['objectGUID'] as Buffer).toString('base64'));
    }

    const base = specOf({ memberLimit: 2, scope: { ous: { include: [ou, ...builtins], exclude: [] } } });
    const s: Spec = { ...base, sources: [sambaSourceSpec(dc, { scope: base.sources[0]!.scope })] };
    const flows = compileFlows(s);
    const source = new AdSource(s.sources[0]!, '/', { env: sambaEnv(dc) });
    let snap;
    try {
      snap = await source.read(readRequestFor(s.sources[0]!, flows));
    } finally {
      await source.close();
    }
    const desired = buildDesired(s, [snap], flows);
    // The tenant verifies the forest's own domain too (the UPN fallback is sAMAccountName@<that domain>).
    const target = emptyTarget();
    target.tenant!.verifiedDomains.push(dc.dnsDomain);
    const plan = planFromDesired({
      spec: s,
      specPath: 'adsync.yaml',
      desired,
      target,
      toolVersion: 'test',
      now: new Date(0),
    }).plan;
    return { plan, desired, anchors, managerCn: MANAGER_CN, domain: dc.dnsDomain };
  },
  async teardown() {
    try {
      if (admin && root) await deleteTree(admin, root);
    } finally {
      await release?.();
      await admin?.unbind().catch(() => {});
      await dc?.stop();
    }
  },
});
