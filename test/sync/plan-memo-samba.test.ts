/**
 * The stored plan for AD sources against Samba AD and the emulator (src/sync/plan-memo.ts, ad-incremental.ts
 * adUnchangedSince): for a DirSync reader (Administrator) and a uSNChanged reader (a plain account), `adsync plan`
 * twice shows the stored plan again — the DC asked only whether anything changed (its LDAP and Graph requests
 * counted) — and after an attribute edit, a move and a delete it plans anew, equal to a full plan as data.
 *
 * The DC is shared with the other test files (and other runs): a write anywhere in its domain makes the DC
 * report a change, and the plan is then made anew, rightly. So "shown again" is asserted for a window in which
 * the DC's highestCommittedUSN did not move (read by the test before the plan that stored it and after the one
 * that should show it); a disturbed window is tried again, a bounded number of times.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, Client, type Client as LdapClient } from 'ldapts';
import { applyPlan } from '../../src/apply/loop.js';
import { planToShow, readAndPlan, TOOL_VERSION, type Session, type ShownPlan } from '../../src/cli/session.js';
import { readWatermark } from '../../src/connectors/ad/usn.js';
import { connectEmulator, type EntraTarget } from '../../src/connectors/entra/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { compileFlows } from '../../src/engine/flows.js';
import type { Plan } from '../../src/model/plan.js';
import { renderText } from '../../src/render/text.js';
import { PLAIN as plainStyle } from '../../src/render/style.js';
import { loadSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import { LocalState } from '../../src/state/local.js';
import { IncrementalReads } from '../../src/sync/incremental.js';
import { sambaSkipReason, type SambaDc } from '../support/samba.js';
import { openIncrementalSamba, type IncrementalSamba } from '../support/samba-incremental.js';
import { addGroup, addOu, addUser, GROUP_GLOBAL_SECURITY, uniqueSuffix } from '../support/samba-seed.js';

const skip = await sambaSkipReason();

/** A plan as data, without when and how it was read. */
function comparable(plan: Plan): unknown {
  const { createdAt: _c, read: _r, ...rest } = plan;
  return rest;
}

const SHOWN = 'spec, sources and tenant unchanged since the stored plan: shown again without planning';
const partOf = (p: ShownPlan, part: string) => p.plan.read?.parts.find((x) => x.part === part);
const shown = (p: ShownPlan): boolean => partOf(p, 'plan')?.reason === SHOWN;

/** LDAP requests sent by every ldapts client of this process while `body` runs (binds, searches, pages). */
async function countLdap<T>(body: () => Promise<T>): Promise<{ result: T; requests: Record<string, number> }> {
  const proto = Client.prototype as unknown as { _send(message: object): unknown };
  const original = proto._send;
  const requests: Record<string, number> = {};
  proto._send = function (this: unknown, message: object) {
    const kind = message.constructor.name;
    requests[kind] = (requests[kind] ?? 0) + 1;
    return original.call(this, message);
  };
  try {
    return { result: await body(), requests };
  } finally {
    proto._send = original;
  }
}

describe('the stored plan for AD sources (Samba + emulator)', { skip }, () => {
  let rig: IncrementalSamba | undefined;
  let dc: SambaDc;
  let admin: LdapClient;
  let root: string;
  let dir: string;
  let readerDn: string;
  let template: string;

  before(async () => {
    rig = await openIncrementalSamba({ ou: 'adsync-plan-memo', readerSam: 'pm', tmp: 'admemo-samba-' });
    ({ dc, admin, root, dir, readerDn } = rig);
    template = join(dir, 'template-tenant.json');
    const e = await startEmulator({
      statePath: template,
      initialDomain: 'contoso.onmicrosoft.com',
      domains: ['contoso.test'],
    });
    await e.close();
  });
  after(async () => {
    await rig?.close();
  });

  const usnNow = async (): Promise<string> => (await readWatermark(admin)).usn;
  const modify = (dn: string, type: string, values: string[]) =>
    admin.modify(
      dn,
      new Change({ operation: values.length ? 'replace' : 'delete', modification: new Attribute({ type, values }) }),
    );

  for (const reader of [
    { name: 'DirSync (Administrator)', key: 'dirsync', reason: /^DirSync: no change since the stored plan$/ },
    { name: 'uSNChanged (a plain account)', key: 'usn', reason: /^uSNChanged: highestCommittedUSN still \d+$/ },
  ] as const) {
    it(
      `${reader.name}: shown again while the DC reports no change, planned anew after an edit, a move, a delete`,
      {
        timeout: 10 * 60_000,
      },
      async () => {
        const sfx = uniqueSuffix().slice(0, 5);
        const top = await addOu(admin, `memo-${reader.key}-${sfx}`, root);
        const scopeOu = await addOu(admin, 'Scope', top);
        const elsewhere = await addOu(admin, 'Elsewhere', top);
        const user = (cn: string) =>
          addUser(admin, scopeOu, {
            cn,
            sam: `${cn.toLowerCase()}${sfx}`,
            upn: `${cn.toLowerCase()}${sfx}@contoso.test`,
          });
        const ann = await user('Ann');
        const bob = await user('Bob');
        const cid = await user('Cid');
        await addGroup(admin, scopeOu, `Team ${sfx}`, GROUP_GLOBAL_SECURITY, { member: [ann, bob, cid] });

        const seqDir = join(dir, reader.key);
        await mkdir(seqDir, { recursive: true });
        const tenantPath = join(seqDir, 'tenant.json');
        await copyFile(template, tenantPath);
        const specPath = join(seqDir, 'adsync.yaml');
        const [bindDn, env] =
          reader.key === 'dirsync'
            ? [dc.adminDn, 'ADSYNC_TEST_LDAP_PASSWORD']
            : [readerDn, 'ADSYNC_TEST_LDAP_READER_PASSWORD'];
        await writeFile(
          specPath,
          `version: 1
sources:
  - name: corp
    ldap:
      url: ${dc.url}
      bindDn: ${JSON.stringify(bindDn)}
      password: { env: ${env} }
      ca: ${JSON.stringify(dc.caPath)}
    scope:
      ous: { include: [${JSON.stringify(scopeOu)}] }
target:
  emulator: { state: ./unused-tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.test] }
safety:
  maxDeletes: 100000
`,
        );
        const spec: Spec = await loadSpec(specPath);
        const flows = compileFlows(spec);
        const state = new LocalState(join(seqDir, 'state'));
        let emulator: RunningEmulator | undefined;
        let target: EntraTarget | undefined;
        try {
          emulator = await startEmulator({ statePath: tenantPath });
          target = await connectEmulator(emulator, { backoffBaseMs: 2 });
          const t = target;
          /** `adsync plan`: the stored plan shown again when nothing changed, else planned and stored. */
          const plan = (): Promise<ShownPlan> =>
            planToShow({
              spec,
              specPath: spec.file,
              flows,
              target: t,
              incremental: IncrementalReads.open(spec, {
                backend: state,
                plan: { specPath: spec.file, toolVersion: TOOL_VERSION },
              }),
              reusePlan: true,
              close: async () => undefined,
            });
          const fullPlan = async (): Promise<Plan> => {
            const session: Session = { spec, specPath: spec.file, flows, target: t, close: async () => undefined };
            return (await readAndPlan(session)).plan;
          };

          /**
           * Plans until the stored plan is shown again in a window where the DC did not change (the plan before
           * stored it); a plan in a disturbed window must still equal a full plan. Returns the shown plan with the
           * LDAP and Graph requests of the showing run.
           */
          const planUntilShown = async (
            what: string,
          ): Promise<{ p: ShownPlan; ldap: Record<string, number>; graph: number }> => {
            let from = await usnNow();
            const first = await plan();
            assert.deepEqual(comparable(first.plan), comparable(await fullPlan()), `${what}: the plan`);
            for (let attempt = 0; attempt < 60; attempt++) {
              const mid = await usnNow();
              const graphBefore = t.stats.requests;
              const { result: again, requests } = await countLdap(plan);
              const graph = t.stats.requests - graphBefore;
              const to = await usnNow();
              if (shown(again)) {
                assert.match(partOf(again, 'source corp')?.reason ?? '', reader.reason, what);
                assert.deepEqual(comparable(again.plan), comparable(await fullPlan()), `${what}: the stored plan`);
                return { p: again, ldap: requests, graph };
              }
              assert.notEqual(
                from,
                to,
                `${what}: the DC did not change, yet the plan was made anew (${JSON.stringify(again.plan.read)})`,
              );
              // Disturbed by another writer: this plan too is a full plan's, and it stored itself; wait for quiet.
              assert.deepEqual(comparable(again.plan), comparable(await fullPlan()), `${what}: a plan made anew`);
              from = mid;
              await sleep(500);
            }
            assert.fail(`${what}: the DC never stayed unchanged through two plans (other writers)`);
          };

          const first = await plan();
          assert.equal(partOf(first, 'source corp')?.mode, 'full');
          await applyPlan({ entra: t }, first.plan);

          const settled = await planUntilShown('nothing changed');
          assert.equal(settled.p.plan.changes.length, 0);
          assert.match(
            renderText(settled.p.plan, plainStyle),
            new RegExp(
              `^Read: incremental \\(plan: ${SHOWN}; source corp: ${reader.reason.source.slice(1, -1)}; target: Graph delta\\)\\.$`,
              'm',
            ),
          );
          process.stdout.write(
            `# ${reader.key}: the stored plan shown again with LDAP ${JSON.stringify(settled.ldap)} and ${settled.graph} Graph request(s)\n`,
          );
          // The connection's TLS handshake (a rootDSE read before the bind), the bind, the rootDSE and the NTDS
          // settings (DC, invocationId, USN), the bases (rootDSE, crossRefs), the tombstone lifetime (rootDSE, its
          // object); DirSync: one round for the one naming context. No snapshot read, no paged search.
          assert.equal(settled.graph, 1, 'one Graph request: the delta round');
          assert.equal(settled.ldap['BindRequest'], 1);
          assert.equal(settled.ldap['SearchRequest'], reader.key === 'dirsync' ? 8 : 7);

          // An attribute edit, a move out of the bases, a delete: each planned anew (not shown), equal to a full plan.
          for (const [what, change] of [
            ['an attribute edit', () => modify(bob, 'title', ['Lead'])],
            ['a move out of the bases', () => admin.modifyDN(ann, `CN=Ann,${elsewhere}`)],
            ['a delete', () => admin.del(cid)],
          ] as const) {
            await change();
            const anew = await plan();
            assert.equal(partOf(anew, 'plan'), undefined, `${what}: planned anew (${JSON.stringify(anew.plan.read)})`);
            assert.equal(partOf(anew, 'source corp')?.mode, 'incremental', what);
            assert.ok(anew.plan.changes.length > 0, `${what}: a change to make`);
            assert.deepEqual(comparable(anew.plan), comparable(await fullPlan()), `${what}: the plan`);
            await planUntilShown(`after ${what}`);
          }
        } finally {
          await target?.close();
          await emulator?.close();
        }
      },
    );
  }
});
