/**
 * Incremental AD reads equal full reads over random change sequences in Samba AD (issue 15): edits, renames and
 * moves of objects and of their parent OUs (in and out of the search base, nested), deletes, restores of
 * tombstones, manager changes and member changes in a group read in ranges. After each `check` step, for a
 * DirSync reader (Administrator) and a uSNChanged reader (a plain account): the folded snapshot equals a fresh
 * full read, as data (../support/source-canonical.ts, which imports nothing that folds), and the plan from the
 * incremental read equals the plan from a full read against the same emulated tenant. `apply` steps apply a
 * full plan, so later plans update, delete and restore rather than only create. Fewer sequences than the LDIF
 * run: every step is LDAP work.
 *
 *   ADSYNC_INC_SAMBA_SEED=<n> ADSYNC_INC_SAMBA_RUNS=<n> [ADSYNC_INC_SAMBA_PATH=<path>] \
 *     npx node --test dist/test/sync/incremental-samba-pbt.test.js
 *
 * Shrunk failures are kept below as named regression sequences (REGRESSIONS).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Attribute, Change, type Client } from 'ldapts';
import { applyPlan } from '../../src/apply/loop.js';
import { planToShow, readAndPlan, TOOL_VERSION, type Session } from '../../src/cli/session.js';
import { readWatermark } from '../../src/connectors/ad/usn.js';
import { AdSource } from '../../src/connectors/ad/index.js';
import { connectEmulator, type EntraTarget } from '../../src/connectors/entra/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { readRequestFor } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import type { Plan } from '../../src/model/plan.js';
import { loadSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import { LocalState } from '../../src/state/local.js';
import { IncrementalReads } from '../../src/sync/incremental.js';
import { sambaSkipReason, type SambaDc } from '../support/samba.js';
import {
  openIncrementalSamba,
  readThroughState,
  restoreTombstone,
  type IncrementalSamba,
  ldapSpecYaml,
} from '../support/samba-incremental.js';
import { addOu, addUser, deleteTree, TEST_USER_PASSWORD, uniqueSuffix, unicodePwd } from '../support/samba-seed.js';
import { canonicalSource } from '../support/source-canonical.js';

const skip = await sambaSkipReason();
const SEED = Number(process.env.ADSYNC_INC_SAMBA_SEED ?? 20261216);
const RUNS = Number(process.env.ADSYNC_INC_SAMBA_RUNS ?? 12);
const PATH = process.env.ADSYNC_INC_SAMBA_PATH;
/** Values per range when the tests read `member`: 8 members make 3 ranges. */
const RANGE = 3;

// ---- steps (plain data: a failure prints a replayable list) ----

const OU_KEYS = ['A', 'B', 'C', 'D'] as const;
type OuKey = (typeof OU_KEYS)[number];
/** Where an object or OU sits: an OU, the search base (`scope`) or outside it (`out`). */
type Place = OuKey | 'scope' | 'out';
const PLACES: Place[] = ['A', 'B', 'C', 'D', 'scope', 'out'];

export type Step =
  | { t: 'edit'; key: number; value: string | null }
  | { t: 'rename'; key: number }
  | { t: 'move'; key: number; to: Place }
  | { t: 'renameOu'; ou: OuKey }
  | { t: 'moveOu'; ou: OuKey; to: Place }
  | { t: 'delete'; key: number }
  | { t: 'restore'; key: number }
  | { t: 'members'; group: number; add: number[]; remove: number[] }
  | { t: 'manager'; key: number; manager: number | null }
  | { t: 'create'; kind: 'user' | 'group'; to: Place }
  | { t: 'check' }
  | { t: 'apply' };

const stepArb: fc.Arbitrary<Step> = (() => {
  const key = fc.nat(20);
  const place = fc.constantFrom(...PLACES);
  const ou = fc.constantFrom(...OU_KEYS);
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('edit' as const),
        key,
        value: fc.option(fc.constantFrom('Lead', 'Ops'), { nil: null }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('rename' as const), key }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('move' as const), key, to: place }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('renameOu' as const), ou }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('moveOu' as const), ou, to: place }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), key }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('restore' as const), key }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('members' as const),
        group: key,
        add: fc.array(key, { maxLength: 4 }),
        remove: fc.array(key, { maxLength: 4 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('manager' as const), key, manager: fc.option(key, { nil: null }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('create' as const),
        kind: fc.constantFrom('user' as const, 'group' as const),
        to: place,
      }),
    },
    { weight: 5, arbitrary: fc.constant({ t: 'check' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'apply' as const }) },
  );
})();

/** Shrunk failures, kept as regression sequences (each runs as its own test). */
const REGRESSIONS: Record<string, Step[]> = {
  // A member report listed skipped members in the order the values came (the server's on a full read, the
  // fold's on an incremental one): the engine now sorts them.
  'members left out are reported in one order': [
    { t: 'edit', key: 0, value: null },
    { t: 'move', key: 0, to: 'A' },
    { t: 'rename', key: 0 },
    { t: 'members', group: 0, add: [11], remove: [] },
    { t: 'rename', key: 0 },
    { t: 'moveOu', ou: 'A', to: 'out' },
  ],
  // DirSync names a removed member by the DN it had when removed: renamed since, it matched no stored value.
  'a member removed, then renamed': [
    { t: 'edit', key: 0, value: null },
    { t: 'members', group: 0, add: [], remove: [0] },
    { t: 'move', key: 0, to: 'A' },
    { t: 'rename', key: 0 },
    { t: 'rename', key: 0 },
  ],
  // Deleted and restored between two reads: one record, a live object at the same DN; the delete had dropped
  // its links (group members, a manager), which the restore does not bring back.
  'deleted and restored between two reads': [
    { t: 'delete', key: 0 },
    { t: 'manager', key: 0, manager: null },
    { t: 'restore', key: 0 },
    { t: 'move', key: 0, to: 'A' },
    { t: 'delete', key: 1 },
    { t: 'check' },
    { t: 'edit', key: 0, value: null },
    { t: 'rename', key: 0 },
    { t: 'apply' },
  ],
  // uSNChanged without visible tombstones: a user deleted, then its former parent OU moved out of the base. The
  // stored DN followed the parent out, so the listing of the base could no longer tell "deleted" from "moved".
  'deleted, then its parent moved out (no tombstones visible)': [
    { t: 'delete', key: 0 },
    { t: 'create', kind: 'user', to: 'A' },
    { t: 'rename', key: 0 },
    { t: 'apply' },
    { t: 'create', kind: 'user', to: 'A' },
    { t: 'moveOu', ou: 'A', to: 'D' },
  ],
  // The same for an object outside the base that groups in it name (u6): its delete dropped those links.
  'a named object outside the base deleted and restored between two reads': [
    { t: 'delete', key: 16 },
    { t: 'restore', key: 0 },
  ],
};

// ---- the directory as the driver knows it (names and places only; the truth is Samba) ----

interface Obj {
  key: string;
  kind: 'user' | 'group';
  cn: string;
  at: Place;
  deleted: boolean;
  guid?: Buffer;
}

class World {
  ous = new Map<OuKey, { name: string; parent: Place }>();
  objects: Obj[] = [];
  members = new Map<string, Set<string>>();
  renames = 0;
  constructor(
    readonly admin: Client,
    readonly seq: string,
    readonly sfx: string,
  ) {}

  get scopeDn(): string {
    return `OU=Scope,${this.seq}`;
  }
  placeDn(p: Place): string {
    if (p === 'scope') return this.scopeDn;
    if (p === 'out') return `OU=Out,${this.seq}`;
    const o = this.ous.get(p)!;
    return `OU=${o.name},${this.placeDn(o.parent)}`;
  }
  dnOf(o: Obj): string {
    return `CN=${o.cn},${this.placeDn(o.at)}`;
  }
  /** Whether `p` lies in `ou`'s subtree (or is it). */
  within(p: Place, ou: OuKey): boolean {
    for (let q: Place = p; q !== 'scope' && q !== 'out'; q = this.ous.get(q)!.parent) if (q === ou) return true;
    return false;
  }
  live(): Obj[] {
    return this.objects.filter((o) => !o.deleted);
  }
  pick<T>(list: T[], n: number): T | undefined {
    return list.length === 0 ? undefined : list[n % list.length];
  }

  async setup(): Promise<void> {
    const c = this.admin;
    await addOu(c, 'Scope', this.seq);
    await addOu(c, 'Out', this.seq);
    const ous: [OuKey, Place][] = [
      ['A', 'scope'],
      ['B', 'A'],
      ['C', 'scope'],
      ['D', 'out'],
    ];
    for (const [k, parent] of ous) {
      this.ous.set(k, { name: k, parent });
      await addOu(c, k, this.placeDn(parent));
    }
    const places: Place[] = ['A', 'A', 'B', 'B', 'C', 'scope', 'D', 'out'];
    for (const [i, at] of places.entries()) await this.create('user', at, `u${i}`);
    await this.create('group', 'scope', 'g0');
    await this.create('group', 'C', 'g1');
    await this.setMembers('g0', ['u0', 'u2', 'u6'], []);
    await this.setMembers('g1', ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'], []);
    await c.modify(
      this.dnOf(this.get('u2')!),
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'manager', values: [this.dnOf(this.get('u0')!)] }),
      }),
    );
  }

  get(key: string): Obj | undefined {
    return this.objects.find((o) => o.key === key);
  }

  async create(kind: 'user' | 'group', at: Place, key = `n${this.objects.length}`): Promise<void> {
    const o: Obj = { key, kind, cn: `${kind === 'user' ? 'User' : 'Group'} ${key}`, at, deleted: false };
    const dn = this.dnOf(o);
    const sam = `${key}${this.sfx}`;
    if (kind === 'user')
      await addUser(this.admin, this.placeDn(at), {
        cn: o.cn,
        sam,
        upn: `${sam}@contoso.test`,
        password: TEST_USER_PASSWORD,
      });
    else
      await this.admin.add(dn, [
        new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
        new Attribute({ type: 'cn', values: [o.cn] }),
        new Attribute({ type: 'sAMAccountName', values: [sam] }),
        new Attribute({ type: 'groupType', values: ['-2147483646'] }),
      ]);
    o.guid = (
      await this.admin.search(dn, {
        scope: 'base',
        attributes: ['objectGUID'],
        explicitBufferAttributes: ['objectGUID'],
      })
    ).searchEntries[0]!['objectGUID'] as Buffer;
    this.objects.push(o);
    if (kind === 'group') this.members.set(key, new Set());
  }

  async setMembers(group: string, add: string[], remove: string[]): Promise<boolean> {
    const g = this.get(group)!;
    const set = this.members.get(group)!;
    const adds = [...new Set(add)].filter((k) => k !== group && !set.has(k) && this.get(k) && !this.get(k)!.deleted);
    const dels = [...new Set(remove)].filter((k) => set.has(k));
    const changes: Change[] = [];
    if (adds.length > 0)
      changes.push(
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'member', values: adds.map((k) => this.dnOf(this.get(k)!)) }),
        }),
      );
    if (dels.length > 0)
      changes.push(
        new Change({
          operation: 'delete',
          modification: new Attribute({ type: 'member', values: dels.map((k) => this.dnOf(this.get(k)!)) }),
        }),
      );
    if (changes.length === 0) return false;
    await this.admin.modify(this.dnOf(g), changes);
    for (const k of adds) set.add(k);
    for (const k of dels) set.delete(k);
    return true;
  }

  /** Runs one change step in Samba; false when it does not apply in this state. */
  async run(s: Step): Promise<boolean> {
    const c = this.admin;
    switch (s.t) {
      case 'edit': {
        const o = this.pick(
          this.live().filter((x) => x.kind === 'user'),
          s.key,
        );
        if (!o) return false;
        await c
          .modify(
            this.dnOf(o),
            new Change({
              operation: s.value === null ? 'delete' : 'replace',
              modification: new Attribute({ type: 'title', values: s.value === null ? [] : [s.value] }),
            }),
          )
          .catch(() => undefined);
        return true;
      }
      case 'rename': {
        const o = this.pick(this.live(), s.key);
        if (!o) return false;
        const from = this.dnOf(o);
        o.cn = `${o.kind === 'user' ? 'User' : 'Group'} ${o.key} r${++this.renames}`;
        await c.modifyDN(from, this.dnOf(o));
        return true;
      }
      case 'move': {
        const o = this.pick(this.live(), s.key);
        if (!o || o.at === s.to) return false;
        const from = this.dnOf(o);
        o.at = s.to;
        await c.modifyDN(from, this.dnOf(o));
        return true;
      }
      case 'renameOu': {
        const ou = this.ous.get(s.ou)!;
        const from = this.placeDn(s.ou);
        ou.name = `${s.ou}${++this.renames}`;
        await c.modifyDN(from, this.placeDn(s.ou));
        return true;
      }
      case 'moveOu': {
        const ou = this.ous.get(s.ou)!;
        if (ou.parent === s.to || this.within(s.to, s.ou)) return false;
        const from = this.placeDn(s.ou);
        ou.parent = s.to;
        await c.modifyDN(from, this.placeDn(s.ou));
        return true;
      }
      case 'delete': {
        const o = this.pick(this.live(), s.key);
        if (!o) return false;
        await c.del(this.dnOf(o));
        o.deleted = true;
        // AD drops the deleted object's links (its memberships, its members) and does not bring them back.
        for (const set of this.members.values()) set.delete(o.key);
        if (o.kind === 'group') this.members.get(o.key)!.clear();
        return true;
      }
      case 'restore': {
        const o = this.pick(
          this.objects.filter((x) => x.deleted),
          s.key,
        );
        if (!o) return false;
        await restoreTombstone(
          c,
          o.guid!,
          this.dnOf(o),
          o.kind === 'user'
            ? [
                new Change({
                  operation: 'replace',
                  modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd(TEST_USER_PASSWORD)] }),
                }),
              ]
            : [],
        );
        o.deleted = false;
        return true;
      }
      case 'members': {
        const g = this.pick(
          this.live().filter((x) => x.kind === 'group'),
          s.group,
        );
        if (!g) return false;
        const live = this.live();
        return this.setMembers(
          g.key,
          s.add.map((n) => this.pick(live, n)!.key),
          s.remove.map((n) => this.pick(live, n)!.key),
        );
      }
      case 'manager': {
        const users = this.live().filter((x) => x.kind === 'user');
        const o = this.pick(users, s.key);
        const m = s.manager === null ? undefined : this.pick(users, s.manager);
        if (!o || m === o) return false;
        await c
          .modify(
            this.dnOf(o),
            new Change({
              operation: m ? 'replace' : 'delete',
              modification: new Attribute({ type: 'manager', values: m ? [this.dnOf(m)] : [] }),
            }),
          )
          .catch(() => undefined);
        return true;
      }
      case 'create':
        await this.create(s.kind, s.to);
        return true;
      default:
        return false;
    }
  }
}

// ---- reading and comparing ----

/** A plan as data, without when and how it was read. */
function comparable(plan: Plan): unknown {
  const { createdAt: _c, read: _r, ...rest } = plan;
  return rest;
}

interface Stats {
  sequences: number;
  checks: number;
  incremental: number;
  reads: number;
  /** Second plans in a window where the DC did not change, and second plans that showed the stored plan. */
  quiet: number;
  shown: number;
}

describe('incremental AD read == full read over random change sequences (Samba + emulator)', { skip }, () => {
  let rig: IncrementalSamba | undefined;
  let dc: SambaDc;
  let admin: Client;
  let root: string;
  let dir: string;
  let template: string;
  let readerDn: string;
  const stats: Stats = { sequences: 0, checks: 0, incremental: 0, reads: 0, quiet: 0, shown: 0 };

  before(async () => {
    rig = await openIncrementalSamba({ ou: 'adsync-inc-pbt', readerSam: 'pr', tmp: 'dirsync-inc-pbt-' });
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

  async function specFor(seqDir: string, name: string, scopeDn: string, bindDn: string, env: string): Promise<Spec> {
    const path = join(seqDir, `${name}.yaml`);
    await writeFile(path, ldapSpecYaml(dc, bindDn, env, scopeDn));
    return loadSpec(path);
  }

  /** One sequence: its own OU tree and tenant; every `check` compares both readers' incremental reads. */
  async function runSequence(steps: Step[]): Promise<void> {
    const n = ++stats.sequences;
    const sfx = uniqueSuffix().slice(0, 5);
    const seqDir = join(dir, `seq-${n}`);
    await mkdir(seqDir, { recursive: true });
    const seq = await addOu(admin, `seq-${n}-${sfx}`, root);
    const world = new World(admin, seq, sfx);
    const tenantPath = join(seqDir, 'tenant.json');
    await copyFile(template, tenantPath);
    let emulator: RunningEmulator | undefined;
    let target: EntraTarget | undefined;
    const log: string[] = [];
    try {
      await world.setup();
      emulator = await startEmulator({ statePath: tenantPath });
      target = await connectEmulator(emulator, { backoffBaseMs: 2 });
      const readers = [
        {
          name: 'dirsync',
          how: /^DirSync$/,
          spec: await specFor(seqDir, 'dirsync', world.scopeDn, dc.adminDn, 'ADSYNC_TEST_LDAP_PASSWORD'),
        },
        {
          name: 'usn',
          how: /^uSNChanged since USN \d+/,
          spec: await specFor(seqDir, 'usn', world.scopeDn, readerDn, 'ADSYNC_TEST_LDAP_READER_PASSWORD'),
        },
      ].map((r) => ({
        ...r,
        flows: compileFlows(r.spec),
        snapshots: new LocalState(join(seqDir, `state-${r.name}-snapshot`)),
        plans: new LocalState(join(seqDir, `state-${r.name}-plan`)),
      }));
      const fullPlan = async (r: (typeof readers)[number]) => {
        const session: Session = {
          spec: r.spec,
          specPath: r.spec.file,
          flows: r.flows,
          target: target!,
          close: async () => undefined,
        };
        return (await readAndPlan(session)).plan;
      };
      const check = async (label: string): Promise<void> => {
        stats.checks++;
        for (const r of readers) {
          const source = r.spec.sources[0]!;
          const request = readRequestFor(source, r.flows);
          // (1) the folded snapshot (member read in ranges) equals a fresh full read, as data
          const { snapshot, part } = await readThroughState(r.spec, source, request, {
            backend: r.snapshots,
            rangeSize: RANGE,
          });
          stats.reads++;
          if (part.mode === 'incremental') {
            stats.incremental++;
            assert.match(part.reason, r.how, `${r.name}: ${JSON.stringify(part)}`);
          }
          const full = new AdSource(source, r.spec.dir, { rangeSize: RANGE });
          try {
            assert.deepEqual(
              canonicalSource(snapshot),
              canonicalSource(await full.read(request)),
              `${r.name} at ${label}: the folded snapshot (${JSON.stringify(part)}) differs from a full read`,
            );
          } finally {
            await full.close();
          }
          // (2) the plan from an incremental read equals the plan from a full read; as `adsync plan` runs, it is
          // stored, and (3) the next plan shows it again when the DC did not change meanwhile (the DC is shared with
          // other test files: a window in which its highestCommittedUSN moved proves nothing), equal still.
          const session = (): Session => ({
            spec: r.spec,
            specPath: r.spec.file,
            flows: r.flows,
            target: target!,
            incremental: IncrementalReads.open(r.spec, {
              backend: r.plans,
              plan: { specPath: r.spec.file, toolVersion: TOOL_VERSION },
            }),
            reusePlan: true,
            close: async () => undefined,
          });
          const usnBefore = (await readWatermark(admin)).usn;
          const incPlan = (await planToShow(session())).plan;
          const fullAsData = comparable(await fullPlan(r));
          assert.deepEqual(
            comparable(incPlan),
            fullAsData,
            `${r.name} at ${label}: the plan from an incremental read (${JSON.stringify(incPlan.read)}) differs from the full read's`,
          );
          const again = (await planToShow(session())).plan;
          const quiet = (await readWatermark(admin)).usn === usnBefore;
          const shown = again.read?.parts.some((p) => p.part === 'plan') === true;
          if (quiet) {
            stats.quiet++;
            assert.ok(
              shown,
              `${r.name} at ${label}: the DC did not change, yet planned anew (${JSON.stringify(again.read)})`,
            );
          }
          if (shown) stats.shown++;
          assert.deepEqual(
            comparable(again),
            fullAsData,
            `${r.name} at ${label}: the plan shown next (${JSON.stringify(again.read)}) differs from the full read's`,
          );
        }
      };
      await check('the initial forest');
      await applyPlan({ entra: target }, await fullPlan(readers[0]!));
      for (const [i, s] of [...steps, { t: 'check' } as Step].entries()) {
        if (s.t === 'check') {
          log.push('check');
          await check(`step ${i + 1}`);
        } else if (s.t === 'apply') {
          log.push('apply');
          const result = await applyPlan({ entra: target }, await fullPlan(readers[0]!));
          assert.deepEqual(
            result.failed.map((f) => f.message),
            [],
            'apply failed',
          );
        } else if (await world.run(s)) log.push(JSON.stringify(s));
      }
    } catch (err) {
      if (err instanceof Error)
        err.message += `\nsteps that ran:\n${log.map((l, i) => `${String(i + 1).padStart(4)}. ${l}`).join('\n')}`;
      throw err;
    } finally {
      await target?.close();
      await emulator?.close();
      await deleteTree(admin, seq).catch(() => undefined);
    }
  }

  for (const [name, steps] of Object.entries(REGRESSIONS))
    it(`regression: ${name}`, { timeout: 10 * 60_000 }, async () => runSequence(steps));

  it(`${RUNS} random sequences (seed ${SEED})`, { timeout: 30 * 60_000 }, async () => {
    const started = Date.now();
    const property = fc.asyncProperty(fc.array(stepArb, { minLength: 8, maxLength: 16 }), async (steps) =>
      runSequence(steps),
    );
    const details = await fc.check(property, {
      seed: SEED,
      numRuns: RUNS,
      ...(PATH ? { path: PATH } : {}),
      endOnFailure: false,
      interruptAfterTimeLimit: 15 * 60_000,
      markInterruptAsFailure: false,
    });
    process.stdout.write(
      `# incremental samba: ${stats.sequences} sequences (with shrinking), ${stats.checks} checks, ${stats.incremental} of ${stats.reads} snapshot reads incremental, ${stats.shown} stored plans shown again (${stats.quiet} second plans with the DC unchanged), ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    if (details.failed) {
      const steps = details.counterexample![0];
      assert.fail(
        `incremental != full after ${details.numRuns} run(s): ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\n` +
          `replay: ADSYNC_INC_SAMBA_SEED=${details.seed} ADSYNC_INC_SAMBA_PATH=${details.counterexamplePath} ADSYNC_INC_SAMBA_RUNS=1 npx node --test dist/test/sync/incremental-samba-pbt.test.js\n` +
          `shrunk sequence (keep it in REGRESSIONS):\n${JSON.stringify(steps)}`,
      );
    }
    // The comparison must have exercised the folding path, not only full reads.
    assert.ok(stats.incremental > stats.reads / 2, `${stats.incremental} of ${stats.reads} reads were incremental`);
    // ... and the stored plan, shown again (asserted for every window in which the DC did not change).
    assert.ok(stats.shown > 0, `${stats.shown} stored plans shown again`);
  });
});
