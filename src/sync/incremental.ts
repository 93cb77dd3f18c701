/**
 * Incremental reads (issue 15): each source and the target is read from its stored state when that state is
 * for the same read scope and still valid, else in full, and the plan says which and why. The engine then
 * plans from the snapshots as usual: an incremental read yields the snapshot a full read would have.
 *
 *   LDIF    the export's content digest: unchanged → the stored snapshot; changed → parsed again (full).
 *   Entra   Graph delta links (./connectors/entra/delta.ts): changes folded into the stored snapshot.
 *   AD      DirSync (cookie) where the account may replicate changes, else uSNChanged polling: changes folded
 *           into the stored snapshot by objectGUID (./ad-incremental.ts, ../connectors/ad/fold.ts).
 *
 * Full read when: no state, `--full`, the scope changed (the part's digest of what it reads), the stored state
 * is unreadable, Graph refuses the link (410, expired token), AD refuses the cookie or its DC changed (see
 * ./ad-incremental.ts for AD's own triggers).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { DeltaRound, EntraReadRequest, EntraTarget, PartRead } from '../connectors/entra/index.js';
import { ldifDigest } from '../connectors/ldif/incremental.js';
import { LdifSource } from '../connectors/ldif/index.js';
import { AdSource } from '../connectors/ad/index.js';
import { readAdIncremental } from './ad-incremental.js';
import type { SourceConnector, SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import type { TargetSnapshot } from '../model/target.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import type { StateBackend } from '../state/backend.js';
import { openState } from '../state/open.js';
import type { PlanOutput } from '../engine/plan.js';
import {
  loadMemo,
  memoKey,
  PLAN_MEMO_NAME,
  saveMemo,
  withinWindow,
  type PlanMemo,
  type SourceKey,
} from './plan-memo.js';
import {
  loadPart,
  packSource,
  packTarget,
  savePart,
  sourceStateName,
  TARGET_STATE_NAME,
  unpackSource,
  unpackTarget,
  type Loaded,
} from './state-snapshots.js';

export type { PartRead } from '../connectors/entra/index.js';

/** How the plan's inputs were read (the plan's `read` field): full when any part was read in full. */
export interface ReadInfo {
  mode: 'full' | 'incremental';
  parts: PartRead[];
  /** Bytes of state written by this run, per blob (absent when nothing changed). */
  saved?: Record<string, number>;
}

export interface IncrementalOptions {
  /** `--full`: read everything, and store what was read. */
  full?: boolean;
  /** The state backend (default: openState(spec)). */
  backend?: StateBackend;
  /** The clock (tests): AD's tombstone lifetime bounds the age of a stored read. */
  now?: () => Date;
}

const digest = (o: unknown): string => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 32);

export class IncrementalReads {
  /** Part name → how it was read last (a second plan in one session reads again). */
  private readonly parts = new Map<string, PartRead>();
  private readonly pending: { name: string; bytes: () => Promise<Buffer>; etag: string | undefined }[] = [];
  private readonly saved: Record<string, number> = {};

  private constructor(
    private readonly spec: Spec,
    private readonly backend: Promise<StateBackend>,
    private readonly full: boolean,
    private readonly now: () => Date = () => new Date(),
  ) {}

  static open(spec: Spec, options: IncrementalOptions = {}): IncrementalReads {
    const backend = options.backend !== undefined ? Promise.resolve(options.backend) : openState(spec);
    backend.catch(() => undefined); // awaited by the first read; a failure surfaces there
    return new IncrementalReads(spec, backend, options.full === true, options.now);
  }

  private async load<T>(name: string, decode: (b: Buffer) => Promise<T>): Promise<Loaded<T>> {
    if (this.full) return { value: undefined, etag: (await (await this.backend).read(name))?.etag };
    return loadPart(await this.backend, name, decode);
  }

  private whyFull(loaded: Loaded<unknown>): string {
    if (this.full) return '--full';
    return loaded.unusable ?? 'no state';
  }

  /** A source's snapshot, from its state when still valid. */
  async readSource(
    source: SourceSpec,
    connector: SourceConnector,
    request: SourceReadRequest,
  ): Promise<SourceSnapshot> {
    const part = `source ${source.name}`;
    if (!source.ldif) {
      if (source.ldap && connector instanceof AdSource) return this.readAd(source, connector, request);
      this.parts.set(part, { part, mode: 'full', reason: 'this source offers no incremental read' });
      this.sourceKeys.set(source.name, undefined);
      return connector.read(request);
    }
    // An export is parsed every run: parsing it costs what decoding a stored snapshot of it did (and storing
    // one cost more than both), so its state is its scope and the digest of the bytes parsed, no snapshot.
    const scope = this.ldifScope(source, request);
    const name = sourceStateName(source.name);
    const [loaded, snapshot] = await Promise.all([this.load(name, unpackSource), connector.read(request)]);
    const parsed = connector instanceof LdifSource ? connector.contentDigest : undefined;
    this.sourceKeys.set(source.name, parsed === undefined ? undefined : { source: source.name, scope, digest: parsed });
    const prior = loaded.value;
    let why: string;
    if (prior === undefined) why = this.whyFull(loaded);
    else if (prior.scope !== scope) why = 'the read scope changed (search bases, filter or attributes)';
    else if (parsed === undefined || prior.digest !== parsed) why = 'the LDIF export changed';
    else {
      this.parts.set(part, { part, mode: 'incremental', reason: 'the LDIF export is unchanged', changes: 0 });
      return snapshot;
    }
    this.parts.set(part, { part, mode: 'full', reason: why });
    if (parsed !== undefined)
      this.pending.push({ name, bytes: packSource({ scope, digest: parsed }), etag: loaded.etag });
    return snapshot;
  }

  /** An AD source: changes since the last read folded into the stored snapshot (./ad-incremental.ts). */
  private async readAd(source: SourceSpec, ad: AdSource, request: SourceReadRequest): Promise<SourceSnapshot> {
    const part = `source ${source.name}`;
    this.sourceKeys.set(source.name, undefined); // no stored plan for an AD source (yet)
    const name = sourceStateName(source.name);
    const [loaded] = await Promise.all([this.load(name, unpackSource), ad.connect()]);
    const forced = loaded.value === undefined ? this.whyFull(loaded) : undefined;
    const out = await readAdIncremental(ad, request, part, loaded.value, forced, this.now());
    this.parts.set(part, out.read);
    if (out.state !== undefined) this.pending.push({ name, bytes: packSource(out.state), etag: loaded.etag });
    return out.snapshot;
  }

  /** The target's snapshot, through Graph delta when the stored links still hold. */
  async readTarget(target: EntraTarget, request: EntraReadRequest): Promise<TargetSnapshot> {
    if (target.readIncremental === undefined) {
      this.parts.set('target', { part: 'target', mode: 'full', reason: 'the target offers no incremental read' });
      return target.read(request);
    }
    if (request.readLicenses === true) {
      // Licence assignments and subscribed SKUs are not folded from delta: a full read keeps the plan exact.
      this.parts.set('target', {
        part: 'target',
        mode: 'full',
        reason: 'licence rules read the tenant in full (licence assignments are not read through delta)',
      });
      return target.read(request);
    }
    const loaded = await this.load(TARGET_STATE_NAME, unpackTarget);
    const full = loaded.value === undefined ? this.whyFull(loaded) : undefined;
    const out = await target.readIncremental(request, loaded.value, full, this.probed);
    this.parts.set(out.read.part, out.read);
    this.targetKey = { scope: out.state.scope, links: out.state.links, fingerprint: out.fingerprint };
    // A fold that saw nothing leaves the stored state as good as new: its links stay valid (7 days).
    if (out.read.mode === 'full' || (out.read.changes ?? 0) > 0) {
      const packed = packTarget(out.state); // compressing beside the planning
      this.pending.push({ name: TARGET_STATE_NAME, bytes: () => packed, etag: loaded.etag });
    }
    return out.snapshot;
  }

  info(): ReadInfo {
    const parts = [...this.parts.values()].sort((a, b) => (a.part < b.part ? -1 : a.part > b.part ? 1 : 0));
    return {
      mode: parts.some((p) => p.mode === 'full') ? 'full' : 'incremental',
      parts,
      // By name: the parts are saved as their reads finish, and the plan's JSON must not depend on that order.
      ...(Object.keys(this.saved).length > 0
        ? { saved: Object.fromEntries(Object.entries(this.saved).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) }
        : {}),
    };
  }

  /** Writes the parts read anew (each over the version read; a concurrent run's newer state wins). */
  async save(): Promise<void> {
    const backend = await this.backend;
    for (const p of this.pending.splice(0)) {
      const size = await savePart(backend, p.name, await p.bytes(), p.etag);
      if (size !== undefined) this.saved[p.name] = size;
    }
  }

  // ---- the stored plan (./plan-memo.ts) ----

  private memo: Promise<PlanMemo | undefined> | undefined;
  private readonly sourceKeys = new Map<string, SourceKey | undefined>();
  private targetKey: PlanMemo['target'] | undefined;
  /** A round of the stored plan's links that found changes: the target read folds it instead of asking again. */
  private probed: DeltaRound | undefined;

  /** What an LDIF source reads: the export's path and the request. */
  private ldifScope(source: SourceSpec, request: SourceReadRequest): string {
    return digest({ kind: 'ldif', path: resolve(this.spec.dir, source.ldif!.path), request });
  }

  /**
   * The stored plan, when adsync, the spec and every source are what it was made from (the tenant and the clock
   * are reuse()'s to check). Undefined with --full, without one, or when a source can't tell cheaply (AD).
   */
  candidate(
    sources: readonly { source: SourceSpec; request: SourceReadRequest }[],
    specPath: string,
    toolVersion: string,
  ): Promise<PlanMemo | undefined> {
    this.memo ??= (async () => {
      if (this.full || sources.some((s) => !s.source.ldif)) return undefined;
      const memo = await loadMemo(await this.backend);
      if (memo === undefined) return undefined;
      const keys: SourceKey[] = [];
      for (const { source, request } of sources) {
        const d = await ldifDigest(resolve(this.spec.dir, source.ldif!.path));
        if (d === undefined) return undefined;
        keys.push({ source: source.name, scope: this.ldifScope(source, request), digest: d });
      }
      const key = memoKey({ toolVersion, specDigest: this.spec.digest, specPath, sources: keys });
      return memo.key === key ? memo : undefined;
    })();
    return this.memo;
  }

  /**
   * The candidate's plan when the tenant too is as it was (one round of its delta links: no change, the same
   * fingerprint) and `now` is inside its clock window; else undefined, and the round (if it found changes) is
   * folded by readTarget instead of being asked for again.
   */
  async reuse(
    memo: PlanMemo,
    sources: readonly SourceSpec[],
    target: EntraTarget,
    request: EntraReadRequest,
    now: Date,
  ): Promise<PlanMemo | undefined> {
    if (!withinWindow(memo.clock, now) || target.probeDelta === undefined || request.readLicenses === true)
      return undefined;
    const probe = await target.probeDelta(request, memo.target.links);
    if ('refused' in probe || probe.scope !== memo.target.scope) return undefined;
    if (probe.round.changes > 0 || probe.fingerprint !== memo.target.fingerprint) {
      this.probed = probe.round;
      return undefined;
    }
    for (const source of sources) {
      const part = `source ${source.name}`;
      this.parts.set(part, { part, mode: 'incremental', reason: 'the LDIF export is unchanged', changes: 0 });
    }
    this.parts.set('target', { part: 'target', mode: 'incremental', reason: 'Graph delta', changes: 0 });
    this.parts.set('plan', {
      part: 'plan',
      mode: 'incremental',
      reason: 'spec, sources and tenant unchanged since the stored plan: shown again without planning',
    });
    return memo;
  }

  /**
   * Stores this run's plan for the next run to reuse, when every part of it can be told unchanged later (LDIF
   * sources, the target read through delta) and the engine was not asked for more than the plan.
   */
  async remember(
    out: PlanOutput,
    specPath: string,
    toolVersion: string,
    shown: { warnings: readonly string[]; admins: ReadonlyMap<string, readonly string[]> },
  ): Promise<void> {
    const keys = this.spec.sources.map((s) => this.sourceKeys.get(s.name));
    const target = this.targetKey;
    if (target === undefined || keys.some((k) => k === undefined)) return;
    const { read: _r, ...plan } = out.plan;
    const size = await saveMemo(await this.backend, {
      key: memoKey({ toolVersion, specDigest: this.spec.digest, specPath, sources: keys as SourceKey[] }),
      target,
      clock: out.clockWindow,
      plan,
      warnings: [...shown.warnings],
      managedMembers: out.managedMembers,
      admins: [...shown.admins],
    });
    if (size !== undefined) this.saved[PLAN_MEMO_NAME] = size;
  }
}
