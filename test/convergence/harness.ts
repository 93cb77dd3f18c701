/**
 * Drives adsync in-process over generated step lists and checks convergence after every apply. The source is
 * pluggable (an LDIF file, or Samba over LDAPS); the target is an embedded Graph emulator per sequence, reached
 * through the official SDK exactly as `adsync plan` / `apply` / `explain` reach it (readAndPlan, target.apply,
 * explainObject). The expectations come from ./model.ts, which shares no code with src/engine.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { readAndPlan, type Session } from '../../src/cli/session.js';
import { connectEmulator, type EntraTarget } from '../../src/connectors/entra/index.js';
import { LdifSource } from '../../src/connectors/ldif/index.js';
import { AdSource } from '../../src/connectors/ad/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { readRequestFor } from '../../src/engine/desired.js';
import { explainObject } from '../../src/engine/explain.js';
import { compileFlows } from '../../src/engine/flows.js';
import type { ApplyResult } from '../../src/apply/types.js';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { loadSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import {
  anchorOf,
  cloneDirectory,
  deleteObject,
  dnOf,
  emptyDirectory,
  emptyTenant,
  GROUP_KEYS,
  LICENSE,
  oracleApply,
  OUS,
  restoreObject,
  TEXT_ATTRS,
  USER_KEYS,
  WORLD,
  type CloudOnly,
  type DGroup,
  type Directory,
  type DUser,
  type Ou,
  type TenantModel,
  type TextAttr,
} from './model.js';
import { applyPlan } from '../../src/apply/loop.js';

// ---- steps (plain data, so a failure prints a readable, replayable list) ----

export const NAMES = ['ann', 'bob', 'cid', 'dee'] as const;
const VALUES = ['Sales', '  Sales  ', 'Engineering', 'Ops Lead', 'Zoë Ünal'] as const;

export type Step =
  | { t: 'createUser'; key: string; ou: Ou; upn: number | null; mail: number | null }
  | { t: 'setAttr'; key: string; attr: TextAttr; value: string | null }
  | { t: 'rename'; key: string }
  | { t: 'disable' | 'enable' | 'delete' | 'restore'; key: string }
  | { t: 'move'; key: string; ou: Ou }
  | { t: 'setUpn' | 'setMail'; key: string; value: number | null }
  | { t: 'setManager'; key: string; manager: string | null }
  | { t: 'createGroup'; key: string; ou: Ou }
  | { t: 'addMember' | 'removeMember'; group: string; member: string }
  | { t: 'emptyGroup'; group: string }
  | { t: 'cloudEdit'; key: string; prop: 'jobTitle' | 'displayName' | 'department' }
  | { t: 'cloudDelete'; key: string }
  | { t: 'cloudRemoveMember' | 'cloudAddMember'; group: string; member: string }
  | { t: 'cloudOnlyUser'; upn: number; mail: number | null; displayNameOf: string | null }
  | { t: 'cloudOnlyGroup'; nameOf: string }
  | { t: 'cloudOnlyMember'; group: string; index: number }
  | { t: 'apply' };

export interface StepOptions {
  /** Steps the backend can't do (Samba can't reanimate a tombstone with the same objectGUID through LDAP here). */
  without?: Step['t'][];
}

/** fc.option, typed (null, never undefined). */
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option<T, null>(a, { nil: null });

export function stepArb(options: StepOptions = {}): fc.Arbitrary<Step> {
  const user = fc.constantFrom(...USER_KEYS);
  const group = fc.constantFrom(...GROUP_KEYS);
  const any = fc.constantFrom(...USER_KEYS, ...GROUP_KEYS);
  const ou = fc.constantFrom(...OUS);
  const name = fc.integer({ min: 0, max: NAMES.length - 1 });
  const all: [number, fc.Arbitrary<Step>][] = [
    [
      6,
      fc.record({
        t: fc.constant('createUser' as const),
        key: user,
        ou: fc.constantFrom<Ou>('Staff', 'Staff', 'Sales', 'Excluded'),
        upn: opt(name),
        mail: opt(name),
      }),
    ],
    [
      4,
      fc.record({
        t: fc.constant('setAttr' as const),
        key: user,
        attr: fc.constantFrom(...TEXT_ATTRS),
        value: opt(fc.constantFrom(...VALUES)),
      }),
    ],
    [2, fc.record({ t: fc.constant('rename' as const), key: any })],
    [2, fc.record({ t: fc.constantFrom('disable' as const, 'enable' as const), key: user })],
    [2, fc.record({ t: fc.constant('delete' as const), key: any })],
    [2, fc.record({ t: fc.constant('restore' as const), key: any })],
    [2, fc.record({ t: fc.constant('move' as const), key: any, ou })],
    [2, fc.record({ t: fc.constantFrom('setUpn' as const, 'setMail' as const), key: user, value: opt(name) })],
    [2, fc.record({ t: fc.constant('setManager' as const), key: user, manager: opt(user) })],
    [
      3,
      fc.record({
        t: fc.constant('createGroup' as const),
        key: group,
        ou: fc.constantFrom<Ou>('Staff', 'Sales', 'Sales', 'Excluded'),
      }),
    ],
    [5, fc.record({ t: fc.constant('addMember' as const), group, member: any })],
    [3, fc.record({ t: fc.constant('removeMember' as const), group, member: any })],
    [1, fc.record({ t: fc.constant('emptyGroup' as const), group })],
    [
      1,
      fc.record({
        t: fc.constant('cloudEdit' as const),
        key: user,
        prop: fc.constantFrom('jobTitle' as const, 'displayName' as const, 'department' as const),
      }),
    ],
    [1, fc.record({ t: fc.constant('cloudDelete' as const), key: user })],
    [1, fc.record({ t: fc.constantFrom('cloudRemoveMember' as const, 'cloudAddMember' as const), group, member: any })],
    [1, fc.record({ t: fc.constant('cloudOnlyUser' as const), upn: name, mail: opt(name), displayNameOf: opt(user) })],
    [1, fc.record({ t: fc.constant('cloudOnlyGroup' as const), nameOf: group })],
    [1, fc.record({ t: fc.constant('cloudOnlyMember' as const), group, index: fc.nat(3) })],
    [5, fc.constant({ t: 'apply' as const })],
  ];
  const without = new Set(options.without ?? []);
  return fc.oneof(...all.map(([weight, arbitrary]) => ({ weight, arbitrary }))).filter((s) => !without.has(s.t));
}

const upnOf = (i: number): string => `${NAMES[i]}${WORLD.samSuffix}@${WORLD.domain}`;
const mailOf = (i: number): string => `${NAMES[i]}${WORLD.samSuffix}.mail@${WORLD.domain}`;

/** The first key from `key` on (rotating through `pool`) that `ok` accepts; `key` itself when none does. */
function rotate(key: string, pool: readonly string[], ok: (k: string) => boolean): string {
  const at = Math.max(0, pool.indexOf(key));
  for (let i = 0; i < pool.length; i++) {
    const k = pool[(at + i) % pool.length]!;
    if (ok(k)) return k;
  }
  return key;
}

/**
 * Points a generated step at objects it can act on in this state (a delete at a live object, a restore at a
 * deleted one, …), so most steps change something; the run logs the resolved steps for replay.
 */
export function resolveStep(d: Directory, s: Step, tenant?: TenantModel): Step {
  const live = (k: string) => d.objects.has(k);
  const isUser = (k: string) => d.objects.get(k)?.kind === 'user';
  const isGroup = (k: string) => d.objects.get(k)?.kind === 'group';
  const anyKeys = [...USER_KEYS, ...GROUP_KEYS];
  const owned = (k: string) => tenant !== undefined && tenant.users.has(anchorOf(k)) && tenant.ids.has(anchorOf(k));
  switch (s.t) {
    case 'createUser':
      return { ...s, key: rotate(s.key, USER_KEYS, (k) => !live(k) && !d.deleted.has(k)) };
    case 'createGroup':
      return { ...s, key: rotate(s.key, GROUP_KEYS, (k) => !live(k) && !d.deleted.has(k)) };
    case 'setAttr':
    case 'disable':
    case 'enable':
    case 'setUpn':
    case 'setMail':
    case 'setManager':
      return { ...s, key: rotate(s.key, USER_KEYS, isUser) };
    case 'rename':
    case 'delete':
    case 'move':
      return { ...s, key: rotate(s.key, anyKeys, live) };
    case 'restore':
      return { ...s, key: rotate(s.key, anyKeys, (k) => d.deleted.has(k)) };
    case 'addMember': {
      const group = rotate(s.group, GROUP_KEYS, isGroup);
      const members = (d.objects.get(group) as DGroup | undefined)?.members ?? [];
      return { ...s, group, member: rotate(s.member, anyKeys, (k) => live(k) && k !== group && !members.includes(k)) };
    }
    case 'removeMember': {
      const group = rotate(s.group, GROUP_KEYS, (k) => isGroup(k) && (d.objects.get(k) as DGroup).members.length > 0);
      const members = (d.objects.get(group) as DGroup | undefined)?.members ?? [];
      return { ...s, group, member: rotate(s.member, anyKeys, (k) => members.includes(k)) };
    }
    case 'emptyGroup':
      return {
        ...s,
        group: rotate(s.group, GROUP_KEYS, (k) => isGroup(k) && (d.objects.get(k) as DGroup).members.length > 0),
      };
    case 'cloudEdit':
    case 'cloudDelete':
      return { ...s, key: rotate(s.key, USER_KEYS, owned) };
    default:
      return s;
  }
}

/** Applies an AD step to the directory model; false when it does not apply (a no-op in this state). */
export function applyToDirectory(d: Directory, s: Step, counter: { renames: number }): boolean {
  const u = (key: string): DUser | undefined => {
    const o = d.objects.get(key);
    return o?.kind === 'user' ? o : undefined;
  };
  const g = (key: string): DGroup | undefined => {
    const o = d.objects.get(key);
    return o?.kind === 'group' ? o : undefined;
  };
  // A real DC refuses a userPrincipalName another live user has (Samba: "samldb: … is already in use"); an
  // LDIF export can hold duplicates, which is how the LDIF run reaches adsync's duplicate-in-source handling.
  const upnTaken = (upn: string | undefined, self: string): boolean =>
    WORLD.uniqueUpn &&
    upn !== undefined &&
    [...d.objects.values()].some(
      (o) => o.kind === 'user' && o.key !== self && o.upn?.toLowerCase() === upn.toLowerCase(),
    );
  switch (s.t) {
    case 'createUser': {
      if (d.objects.has(s.key) || d.deleted.has(s.key)) return false;
      if (s.upn !== null && upnTaken(upnOf(s.upn), s.key)) return false;
      const user: DUser = {
        kind: 'user',
        key: s.key,
        cn: `User ${s.key}`,
        ou: s.ou,
        sam: `${s.key}${WORLD.samSuffix}`,
        uac: 512,
      };
      if (s.upn !== null) user.upn = upnOf(s.upn);
      if (s.mail !== null) user.mail = mailOf(s.mail);
      d.objects.set(s.key, user);
      return true;
    }
    case 'setAttr': {
      const x = u(s.key);
      if (!x || (x[s.attr] ?? null) === s.value) return false;
      if (s.value === null) delete x[s.attr];
      else x[s.attr] = s.value;
      return true;
    }
    case 'rename': {
      const o = d.objects.get(s.key);
      if (!o) return false;
      o.cn = `${o.kind === 'user' ? 'User' : 'Group'} ${s.key} r${++counter.renames}`;
      return true;
    }
    case 'disable':
    case 'enable': {
      const x = u(s.key);
      const uac = s.t === 'disable' ? 514 : 512;
      if (!x || x.uac === uac) return false;
      x.uac = uac;
      return true;
    }
    case 'delete':
      if (!d.objects.has(s.key)) return false;
      deleteObject(d, s.key);
      return true;
    case 'restore':
      if (!d.deleted.has(s.key)) return false;
      restoreObject(d, s.key);
      return true;
    case 'move': {
      const o = d.objects.get(s.key);
      if (!o || o.ou === s.ou) return false;
      o.ou = s.ou;
      return true;
    }
    case 'setUpn':
    case 'setMail': {
      const x = u(s.key);
      const attr = s.t === 'setUpn' ? 'upn' : 'mail';
      const value = s.value === null ? undefined : s.t === 'setUpn' ? upnOf(s.value) : mailOf(s.value);
      if (!x || x[attr] === value || (attr === 'upn' && upnTaken(value, x.key))) return false;
      if (value === undefined) delete x[attr];
      else x[attr] = value;
      return true;
    }
    case 'setManager': {
      const x = u(s.key);
      const m = s.manager;
      if (!x || x.manager === (m ?? undefined) || (m !== null && (!u(m) || m === s.key))) return false;
      if (m === null) delete x.manager;
      else x.manager = m;
      return true;
    }
    case 'createGroup':
      if (d.objects.has(s.key) || d.deleted.has(s.key)) return false;
      d.objects.set(s.key, { kind: 'group', key: s.key, cn: `Group ${s.key}`, ou: s.ou, members: [] });
      return true;
    case 'addMember': {
      const x = g(s.group);
      if (!x || s.member === s.group || !d.objects.has(s.member) || x.members.includes(s.member)) return false;
      x.members.push(s.member);
      return true;
    }
    case 'removeMember': {
      const x = g(s.group);
      if (!x || !x.members.includes(s.member)) return false;
      x.members = x.members.filter((m) => m !== s.member);
      return true;
    }
    case 'emptyGroup': {
      const x = g(s.group);
      if (!x || x.members.length === 0) return false;
      x.members = [];
      return true;
    }
    default:
      return false;
  }
}

/** Every sequence starts from this small forest (applied), so the generated steps find objects to change. */
export const INITIAL_FOREST: Step[] = [
  { t: 'createUser', key: 'u0', ou: 'Staff', upn: 0, mail: 0 },
  { t: 'createUser', key: 'u1', ou: 'Staff', upn: 1, mail: null },
  { t: 'createUser', key: 'u2', ou: 'Sales', upn: null, mail: 2 },
  { t: 'createUser', key: 'u3', ou: 'Excluded', upn: 3, mail: null },
  { t: 'setAttr', key: 'u0', attr: 'title', value: 'Ops Lead' },
  { t: 'setManager', key: 'u1', manager: 'u0' },
  { t: 'createGroup', key: 'g0', ou: 'Staff' },
  { t: 'addMember', group: 'g0', member: 'u0' },
  { t: 'addMember', group: 'g0', member: 'u1' },
  { t: 'createGroup', key: 'g1', ou: 'Sales' },
  { t: 'addMember', group: 'g1', member: 'u2' },
  { t: 'addMember', group: 'g1', member: 'g0' },
  { t: 'apply' },
];

// ---- the source side ----

export interface SourceBackend {
  /** The spec's `sources:` entry (YAML) for this backend, for the sequence begun last. */
  sourceYaml(): string;
  /** The target's verified domains (the emulator template's). */
  domains?: string[];
  /** Prepares a sequence (e.g. its own OU tree; sets WORLD). */
  begin?(sequence: number): Promise<void>;
  /** Brings the real directory to the model's state (`before` is what it holds now). */
  realize(before: Directory, after: Directory): Promise<void>;
  /** Removes what this sequence created (the next sequence starts from an empty directory). */
  reset(current: Directory): Promise<void>;
}

// ---- the tenant side ----

interface StateObject {
  id: string;
  kind: string;
  props: Record<string, unknown>;
  members?: string[];
  manager?: string;
}
interface State {
  objects: StateObject[];
  deleted: StateObject[];
}

export interface Write {
  method: string;
  path: string;
}

/** One sequence's tenant: an emulator (from a template state, so no key generation), its writes and a token. */
class Tenant {
  writes: Write[] = [];
  private token = '';
  private target: EntraTarget | undefined;
  private constructor(
    readonly emulator: RunningEmulator,
    readonly statePath: string,
  ) {}

  static async start(template: string, statePath: string): Promise<Tenant> {
    await copyFile(template, statePath);
    let tenant: Tenant | undefined; // eslint-disable-line prefer-const -- the onWrite closure reads it before it is set
    const emulator = await startEmulator({
      statePath,
      onWrite: (w) => tenant?.writes.push({ method: w.method, path: w.path }),
    });
    tenant = new Tenant(emulator, statePath);
    return tenant;
  }

  /** adsync's connection, kept for the sequence (a CLI run would connect per command; the code path is the same). */
  async connect(): Promise<EntraTarget> {
    // Short backoff: a retry (replication lag, throttling) shows up at once as a write the plan did not ask for.
    this.target ??= await connectEmulator(this.emulator, { backoffBaseMs: 2 });
    return this.target;
  }

  async state(): Promise<State> {
    await this.emulator.save();
    return JSON.parse(await readFile(this.statePath, 'utf8')) as State;
  }

  /** A Graph call as an admin in the portal would make it (not through adsync). */
  async graph(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const e = this.emulator;
    if (!this.token) {
      const res = await fetch(`${e.authorityHost}/${e.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: e.clientId,
          client_secret: e.clientSecret,
          scope: 'https://graph.microsoft.com/.default',
        }),
      });
      this.token = ((await res.json()) as { access_token: string }).access_token;
    }
    const res = await fetch(`${e.url}/v1.0${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async close(): Promise<void> {
    await this.target?.close();
    await this.emulator.close();
  }
}

/** The anchor adsync stamped on an object (its directory extension), if any. */
function anchorProp(o: StateObject): string | undefined {
  for (const [k, v] of Object.entries(o.props))
    if (k.startsWith('extension_') && k.endsWith('_adsyncAnchor') && typeof v === 'string') return v;
  return undefined;
}

const empty = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
const same = (a: unknown, b: unknown): boolean => (empty(a) && empty(b)) || JSON.stringify(a) === JSON.stringify(b);

// ---- one sequence ----

export interface SequenceContext {
  dir: string;
  template: string;
  backend: SourceBackend;
  /** Known bugs tolerated for now (each names the bug and who fixes it). */
  /** Reuse the tenant after the initial forest across sequences (only for a stateless source such as LDIF). */
  cacheInitial?: boolean;
  /** The spec has the licence rule of model.ts (LICENSE); the template tenant must subscribe its SKU. */
  licenses?: boolean;
  initial?: { template: string; directory: Directory; model: TenantModel };
  /**
   * Called with every plan the sequence makes (before and after each apply), e.g. to compare it with the plan
   * an incremental read gives (test/sync/incremental.test.ts).
   */
  onPlan?: (
    at: { sequence: number; spec: Spec; flows: ReturnType<typeof compileFlows>; target: EntraTarget },
    plan: Plan,
  ) => Promise<void>;
  stats: { sequences: number; steps: number; effective: number; applies: number; writes: number; explained: number };
}

function specYaml(backend: SourceBackend, licenses: boolean): string {
  // licences: a rule that owns SPE_E3 (the template subscribes it); the usageLocation Graph needs, as a constant
  const lic = licenses
    ? `objects:\n  user:\n    flows:\n      usageLocation: '"US"'\nlicenses:\n${LICENSE.rule}\n`
    : '';
  return `version: 1
sources:
${backend.sourceYaml()}
target:
  emulator: { state: ./unused-tenant.json, tenant: contoso.onmicrosoft.com, domains: [${WORLD.domain}] }
safety:
  maxDeletes: 100000
  maxLicenseRemovals: 100000
  # histories can take every object out of scope (seed 3, run 262): the guard rails aren't under test here
  allowEmptySource: true
${lic}`;
}

export async function runSequence(ctx: SequenceContext, steps: Step[]): Promise<void> {
  ctx.stats.sequences++;
  const seqDir = join(ctx.dir, `seq-${ctx.stats.sequences}`);
  await mkdir(seqDir, { recursive: true });
  await ctx.backend.begin?.(ctx.stats.sequences);
  const specPath = join(seqDir, 'adsync.yaml');
  await writeFile(specPath, specYaml(ctx.backend, ctx.licenses === true));
  const spec = await loadSpec(specPath);
  const flows = compileFlows(spec);
  // A stateless source (LDIF) starts every sequence after the first from the checked initial forest's tenant.
  const start = ctx.initial;
  const tenant = await Tenant.start(start?.template ?? ctx.template, join(seqDir, 'tenant.json'));
  const directory = start ? cloneDirectory(start.directory) : emptyDirectory();
  let realized = emptyDirectory();
  let model = start ? cloneTenant(start.model) : emptyTenant();
  const counter = { renames: 0 };
  /** Anchors the steps since the last apply touched (explain must agree with plan on them). */
  const touched = new Set<string>();
  /** What actually ran (resolved steps that changed something), printed when the sequence fails. */
  const log: string[] = [];
  try {
    await ctx.backend.realize(realized, directory);
    realized = cloneDirectory(directory);
    for (const [i, step] of [...(start ? [] : INITIAL_FOREST), ...steps, { t: 'apply' } as Step].entries()) {
      ctx.stats.steps++;
      if (step.t === 'apply') {
        await ctx.backend.realize(realized, directory);
        realized = cloneDirectory(directory);
        log.push('apply');
        model = await applyAndCheck(ctx, spec, flows, tenant, directory, model, touched);
        touched.clear();
        if (!start && ctx.cacheInitial && i === INITIAL_FOREST.length - 1) {
          const template = join(ctx.dir, 'template-initial.json');
          await tenant.emulator.save();
          await copyFile(tenant.statePath, template);
          ctx.initial = { template, directory: cloneDirectory(directory), model: cloneTenant(model) };
        }
        continue;
      }
      const resolved = resolveStep(directory, step, model);
      if (step.t.startsWith('cloud')) {
        if (await cloudStep(tenant, model, resolved, directory)) {
          ctx.stats.effective++;
          log.push(JSON.stringify(resolved));
        }
        continue;
      }
      if (applyToDirectory(directory, resolved, counter)) {
        ctx.stats.effective++;
        log.push(JSON.stringify(resolved));
        for (const k of ['key', 'group', 'member'] as const)
          if (k in resolved) touched.add(anchorOf((resolved as Record<string, string>)[k]!));
      }
    }
  } catch (err) {
    if (err instanceof Error)
      err.message += `\nsteps that ran (resolved; after the initial forest):\n${log.map((l, i) => `${String(i + 1).padStart(4)}. ${l}`).join('\n')}`;
    throw err;
  } finally {
    await tenant.close();
    await ctx.backend.reset(realized);
  }
}

function cloneTenant(m: TenantModel): TenantModel {
  return {
    users: new Map([...m.users].map(([a, u]) => [a, { ...u }])),
    groups: new Map(
      [...m.groups].map(([a, g]) => [a, { ...g, members: [...g.members], cloudMembers: [...g.cloudMembers] }]),
    ),
    deletedUsers: new Set(m.deletedUsers),
    ids: new Map(m.ids),
    cloudOnly: [...m.cloudOnly],
    ...(m.addressesOfDeleted ? { addressesOfDeleted: new Map(m.addressesOfDeleted) } : {}),
    ...(m.lastOfDeleted ? { lastOfDeleted: new Map(m.lastOfDeleted) } : {}),
  };
}

/** Cloud-side events: an admin edits managed objects, or creates cloud-only ones that collide. */
async function cloudStep(tenant: Tenant, model: TenantModel, s: Step, d: Directory): Promise<boolean> {
  const idOf = (key: string): string | undefined => {
    const a = anchorOf(key);
    return model.users.has(a) || model.groups.has(a) ? model.ids.get(a) : undefined;
  };
  switch (s.t) {
    case 'cloudEdit': {
      const id = idOf(s.key);
      if (!id || !model.users.has(anchorOf(s.key))) return false;
      const r = await tenant.graph('PATCH', `/users/${id}`, { [s.prop]: `Edited in the portal (${s.prop})` });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      return true;
    }
    case 'cloudDelete': {
      const a = anchorOf(s.key);
      const id = idOf(s.key);
      if (!id || !model.users.has(a)) return false;
      const r = await tenant.graph('DELETE', `/users/${id}`);
      assert.equal(r.status, 204, JSON.stringify(r.body));
      model.addressesOfDeleted = new Map(model.addressesOfDeleted ?? []);
      model.addressesOfDeleted.set(a, model.users.get(a)!.addresses);
      model.lastOfDeleted = new Map(model.lastOfDeleted ?? []);
      model.lastOfDeleted.set(a, {
        userPrincipalName: model.users.get(a)!.userPrincipalName,
        mail: model.users.get(a)!.mail,
      });
      model.users.delete(a);
      model.deletedUsers.add(a);
      // the cloud drops its memberships (and its manager links); the next apply restores what AD says
      for (const e of model.users.values()) if (e.manager === a) e.manager = null;
      for (const g of model.groups.values()) g.members = g.members.filter((m) => m !== a);
      return true;
    }
    case 'cloudRemoveMember':
    case 'cloudAddMember': {
      const gid = model.groups.has(anchorOf(s.group)) ? idOf(s.group) : undefined;
      const mid = idOf(s.member);
      if (!gid || !mid || gid === mid) return false;
      const g = model.groups.get(anchorOf(s.group))!;
      const isMember = g.members.includes(anchorOf(s.member));
      if (s.t === 'cloudRemoveMember' && isMember) {
        const r = await tenant.graph('DELETE', `/groups/${gid}/members/${mid}/$ref`);
        assert.equal(r.status, 204, JSON.stringify(r.body));
        return true;
      } else if (s.t === 'cloudAddMember' && !isMember) {
        const r = await tenant.graph('POST', `/groups/${gid}/members/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${mid}`,
        });
        assert.equal(r.status, 204, JSON.stringify(r.body));
        return true;
      }
      return false;
    }
    case 'cloudOnlyUser': {
      const upn = upnOf(s.upn);
      const body: Record<string, unknown> = {
        accountEnabled: true,
        userPrincipalName: upn,
        mailNickname: `cloud${model.cloudOnly.length}`,
        displayName: s.displayNameOf !== null ? (d.objects.get(s.displayNameOf)?.cn ?? 'Cloud person') : 'Cloud person',
        passwordProfile: { password: 'Cloud-Only-Pa55!', forceChangePasswordNextSignIn: true },
      };
      if (s.mail !== null) body.mail = mailOf(s.mail);
      // A UPN or address of an owned user in deleted items can be taken (Graph frees them on delete): that
      // user's restore is then held until the value is free (model.ts, restores).
      const r = await tenant.graph('POST', '/users', body);
      if (r.status !== 201) return false; // the UPN or address is taken (by a synced object): Graph refuses, nothing changes
      const id = (r.body as { id: string }).id;
      const c: CloudOnly = { id, kind: 'user', userPrincipalName: upn, displayName: body.displayName as string };
      if (s.mail !== null) c.mail = mailOf(s.mail);
      model.cloudOnly = [...model.cloudOnly, c];
      return true;
    }
    case 'cloudOnlyGroup': {
      const name = d.objects.get(s.nameOf)?.cn ?? `Group ${s.nameOf}`;
      const r = await tenant.graph('POST', '/groups', {
        displayName: name,
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: `cloudgroup${model.cloudOnly.length}`,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      model.cloudOnly = [...model.cloudOnly, { id: (r.body as { id: string }).id, kind: 'group', displayName: name }];
      return true;
    }
    case 'cloudOnlyMember': {
      const users = model.cloudOnly.filter((c) => c.kind === 'user');
      const gid = model.groups.has(anchorOf(s.group)) ? idOf(s.group) : undefined;
      const c = users[s.index % Math.max(1, users.length)];
      const g = model.groups.get(anchorOf(s.group));
      if (!gid || !c || !g || g.cloudMembers.includes(c.id)) return false;
      const r = await tenant.graph('POST', `/groups/${gid}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${c.id}`,
      });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      g.cloudMembers = [...g.cloudMembers, c.id].sort();
      return true;
    }
    default:
      throw new Error(`not a cloud step: ${s.t}`);
  }
}

const withoutObserved = (c: Change): Change => {
  const { observed: _o, ...rest } = c;
  return rest;
};

async function planOnce(
  spec: Spec,
  flows: ReturnType<typeof compileFlows>,
  tenant: Tenant,
): Promise<Awaited<ReturnType<typeof readAndPlan>>> {
  const target = await tenant.connect();
  const session: Session = { spec, specPath: spec.file, flows, target, close: async () => undefined };
  return readAndPlan(session);
}

function openSource(spec: Spec) {
  const source = spec.sources[0]!;
  return source.ldif
    ? new LdifSource({ name: source.name, path: resolve(spec.dir, source.ldif.path) })
    : new AdSource(source, spec.dir);
}

/**
 * The writes a plan stands for, one string per Graph write (created ids filled in after apply). A user restore
 * also stands for removing it from the adsync groups Graph restored it into that AD doesn't list it in
 * (RestoreChange.memberships); a planned add to a group the restore brought it back into needs no write.
 */
function expectedWrites(plan: Plan, result: Pick<ApplyResult, 'createdIds' | 'restoredMemberships'>): string[] {
  const createdIds = result.createdIds;
  const restored = new Map((result.restoredMemberships ?? []).map((r) => [r.anchor, r]));
  const kept = new Set((result.restoredMemberships ?? []).flatMap((r) => r.kept.map((g) => `${g} ${r.id}`)));
  const out: string[] = [];
  const coll = (kind: string): string => (kind === 'user' ? 'users' : 'groups');
  for (const c of plan.changes) {
    const id = 'id' in c && c.id !== undefined ? c.id : createdIds[c.anchor];
    switch (c.action) {
      case 'create':
        out.push(`POST /${coll(c.kind)}`);
        if (c.attributes.some((a) => a.name === 'manager' && a.after !== undefined))
          out.push(`PUT /users/${id}/manager/$ref`);
        break;
      case 'update':
      case 'restore':
      case 'adopt': {
        if (c.action === 'restore') {
          out.push(`POST /directory/deletedItems/${id}/restore`);
          if (c.kind === 'user')
            assert.equal(
              restored.has(c.anchor),
              c.memberships !== undefined,
              `restore of ${c.label}: memberships pruned iff the plan says so`,
            );
          for (const g of restored.get(c.anchor)?.removed ?? []) out.push(`DELETE /groups/${g}/members/${id}/$ref`);
        }
        out.push(`PATCH /${coll(c.kind)}/${id}`);
        const m = c.attributes.find((a) => a.name === 'manager');
        if (m) out.push(m.after !== undefined ? `PUT /users/${id}/manager/$ref` : `DELETE /users/${id}/manager/$ref`);
        break;
      }
      case 'takeover':
        // The source-of-authority switch, then anchor and attributes in one PATCH (never generated here).
        out.push(`PATCH /${coll(c.kind)}/${id}/onPremisesSyncBehavior`, `PATCH /${coll(c.kind)}/${id}`);
        break;
      case 'release':
        out.push(`PATCH /${coll(c.kind)}/${id}/onPremisesSyncBehavior`, `PATCH /${coll(c.kind)}/${id}`);
        break;
      case 'add-members': {
        const members = c.members.filter((m) => !kept.has(`${id} ${m.id ?? createdIds[m.anchor]}`));
        for (let i = 0; i < members.length; i += 20) out.push(`PATCH /groups/${id}`);
        break;
      }
      case 'remove-members':
        for (const m of c.members) out.push(`DELETE /groups/${id}/members/${m.id ?? createdIds[m.anchor]}/$ref`);
        break;
      case 'delete':
        out.push(`DELETE /${coll(c.kind)}/${id}`);
        break;
      case 'licenses':
        out.push(`POST /users/${id}/assignLicense`);
        break;
    }
  }
  return out.sort();
}

async function applyAndCheck(
  ctx: SequenceContext,
  spec: Spec,
  flows: ReturnType<typeof compileFlows>,
  tenant: Tenant,
  directory: Directory,
  prev: TenantModel,
  touched: Set<string>,
): Promise<TenantModel> {
  ctx.stats.applies++;
  const first = await planOnce(spec, flows, tenant);
  const plan = first.plan;
  const at = { sequence: ctx.stats.sequences, spec, flows, target: await tenant.connect() };
  await ctx.onPlan?.(at, plan);

  // (e) explain agrees with plan for every object this step touched or changed.
  const sourceSnap = await (async () => {
    const source = openSource(spec);
    try {
      return await source.read(readRequestFor(spec.sources[0]!, flows));
    } finally {
      await source.close();
    }
  })();
  const anchors = new Set([...touched, ...plan.changes.map((c) => c.anchor)]);
  for (const anchor of [...anchors].sort()) {
    const planned = plan.changes.filter((c) => c.anchor === anchor).map(withoutObserved);
    const e = explainObject({ spec, flows, sources: [sourceSnap], target: first.targetSnapshot, query: anchor });
    ctx.stats.explained++;
    if (!e.found) {
      assert.ok(
        planned.every((c) => c.action === 'delete' || c.action === 'remove-members'),
        `explain can't find ${anchor}, but the plan has ${JSON.stringify(planned)}`,
      );
      continue;
    }
    assert.deepEqual(
      e.changes.map(withoutObserved),
      planned,
      `explain and plan disagree on ${anchor} (${e.object?.dn})`,
    );
  }

  // Cloud-only objects, as stored, before the apply.
  const before = await tenant.state();
  const cloudOnlyIds = new Set(prev.cloudOnly.map((c) => c.id));
  const cloudBefore = new Map(
    before.objects.filter((o) => cloudOnlyIds.has(o.id)).map((o) => [o.id, JSON.stringify(o)]),
  );

  // (d) apply issues exactly the plan's writes.
  tenant.writes = [];
  const target = await tenant.connect();
  const result = await applyPlan({ entra: target }, plan);
  assert.deepEqual(
    result.failed.map((f) => `${f.operation}: ${f.message}`),
    [],
    'apply failed',
  );
  assert.deepEqual(
    result.skipped.map((s) => s.reason),
    [],
    'apply skipped changes',
  );
  const issued = tenant.writes
    .filter((w) => !w.path.startsWith('/applications/'))
    .map((w) => `${w.method} ${w.path}`)
    .sort();
  ctx.stats.writes += issued.length;
  assert.deepEqual(issued, expectedWrites(plan, result), "the writes apply issued are not the plan's changes");

  // (a) the next plan is empty.
  const second = await planOnce(spec, flows, tenant);
  await ctx.onPlan?.(at, second.plan);
  assert.deepEqual(
    second.plan.changes.map((c) => `${c.action} ${c.kind} ${c.label}`),
    [],
    'the plan after apply is not empty',
  );

  // (c) cloud-only objects are byte-identical.
  const after = await tenant.state();
  for (const [id, json] of cloudBefore) {
    const now = after.objects.find((o) => o.id === id);
    assert.equal(now ? JSON.stringify(now) : 'gone', json, `apply changed the cloud-only object ${id}`);
  }

  // (b) the tenant is what the oracle says.
  const next = oracleApply(prev, directory);
  compareTenant(ctx, next, after);
  if (ctx.licenses) compareLicenses(next, after);
  return next;
}

function compareTenant(_ctx: SequenceContext, want: TenantModel, state: State): void {
  const live = new Map<string, StateObject>();
  const anchorOfId = new Map<string, string>();
  for (const o of state.objects) {
    const a = anchorProp(o);
    if (a === undefined) continue;
    assert.ok(!live.has(a), `two live objects carry anchor ${a}`);
    live.set(a, o);
    anchorOfId.set(o.id, a);
  }
  const deleted = new Map<string, StateObject>();
  for (const o of state.deleted) {
    const a = anchorProp(o);
    if (a !== undefined && o.kind === 'user') deleted.set(a, o);
  }
  const liveUsers = [...live]
    .filter(([, o]) => o.kind === 'user')
    .map(([a]) => a)
    .sort();
  const liveGroups = [...live]
    .filter(([, o]) => o.kind === 'group')
    .map(([a]) => a)
    .sort();
  assert.deepEqual(liveUsers, [...want.users.keys()].sort(), 'the owned users in the tenant');
  assert.deepEqual(liveGroups, [...want.groups.keys()].sort(), 'the owned groups in the tenant');
  assert.deepEqual(
    [...deleted.keys()].filter((a) => !live.has(a)).sort(),
    [...want.deletedUsers].sort(),
    'the owned users in deleted items',
  );

  for (const [a, e] of want.users) {
    const o = live.get(a)!;
    if (e.held) continue;
    for (const name of [
      'displayName',
      'givenName',
      'surname',
      'jobTitle',
      'department',
      'mail',
      'userPrincipalName',
      'accountEnabled',
      'onPremisesImmutableId',
    ] as const) {
      assert.ok(
        same(o.props[name], e[name]),
        `user ${e.userPrincipalName} (${a}): ${name} is ${JSON.stringify(o.props[name])}, the oracle says ${JSON.stringify(e[name])}`,
      );
    }
    const manager = o.manager === undefined ? null : (anchorOfId.get(o.manager) ?? `id:${o.manager}`);
    assert.equal(manager, e.manager, `user ${e.userPrincipalName}: manager`);
  }
  for (const [a, e] of want.groups) {
    const o = live.get(a)!;
    assert.equal(o.props.displayName, e.displayName, `group ${a}: displayName`);
    const owned = (o.members ?? [])
      .filter((id) => anchorOfId.has(id))
      .map((id) => anchorOfId.get(id)!)
      .sort();
    const others = (o.members ?? []).filter((id) => !anchorOfId.has(id)).sort();
    assert.deepEqual(owned, e.members, `group ${e.displayName} (${a}): owned members`);
    assert.deepEqual(others, e.cloudMembers, `group ${e.displayName} (${a}): cloud-only members`);
  }
  // A restore keeps the object id; record ids the first time they are seen.
  for (const [a, o] of [...live, ...deleted]) {
    const known = want.ids.get(a);
    if (known !== undefined)
      assert.equal(o.id, known, `anchor ${a} changed its object id (re-created instead of restored?)`);
    else want.ids.set(a, o.id);
  }
}

/** Each owned user's direct SPE_E3 is what the oracle says (group-inherited ones are never adsync's). */
function compareLicenses(want: TenantModel, state: State): void {
  const live = new Map<string, StateObject>();
  for (const o of state.objects) {
    const a = anchorProp(o);
    if (a !== undefined && o.kind === 'user') live.set(a, o);
  }
  for (const [a, e] of want.users) {
    if (e.held) continue;
    const states = (live.get(a)?.props['licenseAssignmentStates'] ?? []) as {
      skuId: string;
      disabledPlans: string[];
      assignedByGroup: string | null;
    }[];
    const direct = states
      .filter((x) => x.assignedByGroup === null)
      .map((x) => `${x.skuId} without ${[...x.disabledPlans].sort().join(',')}`);
    assert.deepEqual(
      direct,
      e.licensed ? [`${LICENSE.skuId} without ${LICENSE.disabledPlanId}`] : [],
      `user ${e.userPrincipalName} (${a}): direct licences`,
    );
  }
}

/** Every step's object keys, for readable failure output. */
export function describeSteps(steps: Step[]): string {
  return steps.map((s, i) => `${String(i + 1).padStart(3)}. ${JSON.stringify(s)}`).join('\n');
}

export { dnOf };
