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
import { gunzipSync, gzipSync } from 'node:zlib';
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
import { adPosition } from '../../src/sync/ad-incremental.js';
import { IncrementalReads } from '../../src/sync/incremental.js';
import { loadMemo, memoKey, saveMemo } from '../../src/sync/plan-memo.js';
import { packSource, sourceStateName, unpackSource, type SourceState } from '../../src/sync/state-snapshots.js';
import { sambaSkipReason, type SambaDc } from '../support/samba.js';
import { ldapSpecYaml, openIncrementalSamba, type IncrementalSamba } from '../support/samba-incremental.js';
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

  type ReaderKey = 'dirsync' | 'usn';
  const READERS = {
    dirsync: { name: 'DirSync (Administrator)', reason: /^DirSync: no change since the stored plan$/ },
    usn: { name: 'uSNChanged (a plain account)', reason: /^uSNChanged: highestCommittedUSN still \d+$/ },
  } as const;

  interface World {
    spec: Spec;
    scopeOu: string;
    elsewhere: string;
    user(cn: string): Promise<string>;
    /** `adsync plan` (at `now`): the stored plan shown again when nothing changed, else planned and stored. */
    plan(now?: Date): Promise<ShownPlan>;
    fullPlan(): Promise<Plan>;
    /**
     * Plans until the stored plan is shown again in a window where the DC did not change (the plan before stored
     * it); a plan in a disturbed window must still equal a full plan. Returns the shown plan with the LDAP and
     * Graph requests of the showing run.
     */
    planUntilShown(what: string): Promise<{ p: ShownPlan; ldap: Record<string, number>; graph: number }>;
    /**
     * Changes the stored AD state, and keys the stored plan to the changed state, as if the plan had been made
     * from it: what the DC says now is then all that can keep the plan from being shown.
     */
    tamper(fn: (s: SourceState) => void): Promise<void>;
    apply(plan: Plan): Promise<void>;
    state: LocalState;
    close(): Promise<void>;
  }

  async function openWorld(key: ReaderKey): Promise<World> {
    const reader = READERS[key];
    const sfx = uniqueSuffix().slice(0, 5);
    const top = await addOu(admin, `memo-${key}-${sfx}`, root);
    const scopeOu = await addOu(admin, 'Scope', top);
    const elsewhere = await addOu(admin, 'Elsewhere', top);
    const user = (cn: string) =>
      addUser(admin, scopeOu, { cn, sam: `${cn.toLowerCase()}${sfx}`, upn: `${cn.toLowerCase()}${sfx}@contoso.test` });
    const seqDir = join(dir, `${key}-${sfx}`);
    await mkdir(seqDir, { recursive: true });
    const tenantPath = join(seqDir, 'tenant.json');
    await copyFile(template, tenantPath);
    const specPath = join(seqDir, 'adsync.yaml');
    const [bindDn, env] =
      key === 'dirsync' ? [dc.adminDn, 'ADSYNC_TEST_LDAP_PASSWORD'] : [readerDn, 'ADSYNC_TEST_LDAP_READER_PASSWORD'];
    await writeFile(specPath, ldapSpecYaml(dc, bindDn, env, scopeOu));
    const spec: Spec = await loadSpec(specPath);
    const flows = compileFlows(spec);
    const state = new LocalState(join(seqDir, 'state'));
    const emulator: RunningEmulator = await startEmulator({ statePath: tenantPath });
    let target: EntraTarget;
    try {
      target = await connectEmulator(emulator, { backoffBaseMs: 2 });
    } catch (err) {
      await emulator.close();
      throw err;
    }
    const t = target;
    const plan = (now?: Date): Promise<ShownPlan> =>
      planToShow(
        {
          spec,
          specPath: spec.file,
          flows,
          target: t,
          incremental: IncrementalReads.open(spec, {
            backend: state,
            plan: { specPath: spec.file, toolVersion: TOOL_VERSION },
            ...(now ? { now: () => now } : {}),
          }),
          reusePlan: true,
          close: async () => undefined,
        },
        now,
      );
    const fullPlan = async (): Promise<Plan> => {
      const session: Session = { spec, specPath: spec.file, flows, target: t, close: async () => undefined };
      return (await readAndPlan(session)).plan;
    };
    return {
      spec,
      state,
      scopeOu,
      elsewhere,
      user,
      plan,
      fullPlan,
      async planUntilShown(what) {
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
      },
      async tamper(fn) {
        const name = sourceStateName('corp');
        const obj = await state.read(name);
        assert.ok(obj, 'a stored state');
        const s = await unpackSource(obj.bytes);
        fn(s);
        await state.write(name, await packSource(s)(), { ifMatch: obj.etag });
        const memo = await loadMemo(state);
        assert.ok(memo, 'a stored plan');
        const { format: _f, ...rest } = memo;
        const key = memoKey({
          toolVersion: TOOL_VERSION,
          specDigest: spec.digest,
          specPath: spec.file,
          sources: [{ source: 'corp', scope: s.scope, digest: adPosition(s.ad!) }],
        });
        await saveMemo(state, { ...rest, key });
      },
      async apply(p) {
        const result = await applyPlan({ entra: t }, p);
        assert.deepEqual(
          result.failed.map((f) => f.message),
          [],
        );
      },
      async close() {
        await t.close();
        await emulator.close();
      },
    };
  }

  for (const key of ['dirsync', 'usn'] as const) {
    const reader = READERS[key];
    it(
      `${reader.name}: shown again while the DC reports no change, planned anew after an edit, a move, a delete`,
      {
        timeout: 10 * 60_000,
      },
      async () => {
        const w = await openWorld(key);
        try {
          const ann = await w.user('Ann');
          const bob = await w.user('Bob');
          const cid = await w.user('Cid');
          await addGroup(admin, w.scopeOu, `Team ${uniqueSuffix().slice(0, 5)}`, GROUP_GLOBAL_SECURITY, {
            member: [ann, bob, cid],
          });
          const first = await w.plan();
          assert.equal(partOf(first, 'source corp')?.mode, 'full');
          await w.apply(first.plan);

          const settled = await w.planUntilShown('nothing changed');
          assert.equal(settled.p.plan.changes.length, 0);
          assert.match(
            renderText(settled.p.plan, plainStyle),
            new RegExp(
              `^Read: incremental \\(plan: ${SHOWN}; source corp: ${reader.reason.source.slice(1, -1)}; target: Graph delta\\)\\.$`,
              'm',
            ),
          );
          process.stdout.write(
            `# ${key}: the stored plan shown again with LDAP ${JSON.stringify(settled.ldap)} and ${settled.graph} Graph request(s)\n`,
          );
          // The connection's TLS handshake (a rootDSE read before the bind), the bind, the rootDSE and the NTDS
          // settings (DC, invocationId, USN), the bases (rootDSE, crossRefs), the tombstone lifetime (rootDSE, its
          // object); DirSync: one round for the one naming context. No snapshot read, no paged search.
          assert.equal(settled.graph, 1, 'one Graph request: the delta round');
          assert.equal(settled.ldap['BindRequest'], 1);
          assert.equal(settled.ldap['SearchRequest'], key === 'dirsync' ? 8 : 7);

          if (key === 'usn') {
            // A write the account can't see (a delete outside the bases: no tombstone for it, nothing listed): the
            // read finds nothing, and only the state's header moves to the DC's new highestCommittedUSN, so the
            // next plan can show the stored plan again.
            const gone = await addUser(admin, w.elsewhere, { cn: 'Gone', sam: `gone${uniqueSuffix().slice(0, 6)}` });
            await w.planUntilShown('an object created outside the bases');
            await admin.del(gone);
            const moved = await w.plan();
            assert.equal(partOf(moved, 'plan'), undefined, 'the USN moved: planned');
            assert.equal(partOf(moved, 'source corp')?.changes, 0);
            assert.ok(moved.plan.read?.saved?.[sourceStateName('corp')], 'the header rewritten');
            await w.planUntilShown('after a delete the account cannot see');
          }

          // An attribute edit, a move out of the bases, a delete: each planned anew (not shown), equal to a full plan.
          for (const [what, change] of [
            ['an attribute edit', () => modify(bob, 'title', ['Lead'])],
            ['a move out of the bases', () => admin.modifyDN(ann, `CN=Ann,${w.elsewhere}`)],
            ['a delete', () => admin.del(cid)],
          ] as const) {
            await change();
            const anew = await w.plan();
            assert.equal(partOf(anew, 'plan'), undefined, `${what}: planned anew (${JSON.stringify(anew.plan.read)})`);
            assert.equal(partOf(anew, 'source corp')?.mode, 'incremental', what);
            assert.ok(anew.plan.changes.length > 0, `${what}: a change to make`);
            assert.deepEqual(comparable(anew.plan), comparable(await w.fullPlan()), `${what}: the plan`);
            await w.planUntilShown(`after ${what}`);
          }
        } finally {
          await w.close();
        }
      },
    );
  }

  it(
    'each AD full-read trigger keeps the stored plan from being shown (DirSync)',
    { timeout: 10 * 60_000 },
    async () => {
      const w = await openWorld('dirsync');
      try {
        await w.user('Dee');
        await w.apply((await w.plan()).plan);
        await w.planUntilShown('nothing changed');
        /** Not shown: the source read in full, for this reason; then the stored plan is shown again. */
        const fullBecause = async (what: string, why: RegExp, now?: Date): Promise<void> => {
          const p = await w.plan(now);
          assert.equal(partOf(p, 'plan'), undefined, `${what}: not shown (${JSON.stringify(p.plan.read)})`);
          assert.equal(partOf(p, 'source corp')?.mode, 'full', what);
          assert.match(partOf(p, 'source corp')?.reason ?? '', why, what);
          assert.deepEqual(comparable(p.plan), comparable(await w.fullPlan()), what);
          await w.planUntilShown(`after ${what}`);
        };
        await w.tamper((s) => (s.ad!.watermark.invocationId = Buffer.alloc(16, 7).toString('base64')));
        await fullBecause('the DC restored', /^the domain controller's invocationId changed/);
        await w.tamper((s) => (s.ad!.watermark.dc = `CN=NTDS Settings,CN=DC9,${dc.baseDn}`));
        await fullBecause('another DC', /^another domain controller/);
        await w.tamper((s) => {
          for (const k of Object.keys(s.ad!.cookies!))
            s.ad!.cookies![k] = Buffer.from('not a cookie').toString('base64');
        });
        await fullBecause('a refused cookie', /^the domain controller refused the DirSync cookie/);
        await fullBecause(
          'the tombstone lifetime',
          /^the last read is 180 days old/,
          new Date(Date.now() + 180 * 24 * 3600 * 1000),
        );
        await w.tamper((s) => (s.ad!.unfollowable = "an entry names CN=X, which the incremental read can't follow"));
        await fullBecause('an unfollowable value', /^an entry names CN=X/);
        // A state written before the header (one JSON): not shown (no header to read), then rewritten with one.
        const name = sourceStateName('corp');
        const obj = await w.state.read(name);
        assert.ok(obj, 'a stored state');
        const text = gunzipSync(obj.bytes).toString('utf8');
        await w.state.write(name, gzipSync(text.slice(text.indexOf('\n') + 1)), { ifMatch: obj.etag });
        const headerless = await w.plan();
        assert.equal(partOf(headerless, 'plan'), undefined, 'a state without the header: not shown');
        assert.equal(partOf(headerless, 'source corp')?.mode, 'incremental', 'read as before');
        assert.ok(headerless.plan.read?.saved?.[name], 'the state rewritten (with its header)');
        await w.planUntilShown('after a state without the header');
      } finally {
        await w.close();
      }
    },
  );
});
