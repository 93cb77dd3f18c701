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
import { LdifSource } from '../connectors/ldif/index.js';
import { AdSource } from '../connectors/ad/index.js';
import { adPosition, adUnchangedSince, readAdIncremental } from './ad-incremental.js';
import { BACK_LINKS } from '../connectors/ad/fold.js';
import type { NamingContext, SourceConnector, SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import type { DesiredState } from '../engine/desired.js';
import type { KindFlows } from '../engine/flows.js';
import { entryVerdicts, SHARED_DIGEST_BYTES } from '../engine/local-edits.js';
import { DIGEST_BYTES, KEY_BYTES, scanLdifFile, type LdifRecordIndex } from '../connectors/ldif/records.js';
import { patchForLocalEdits, type EditedSource } from './local-edits.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import type { StateBackend } from '../state/backend.js';
import { StateError } from '../state/backend.js';
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
  RECORD_ENTRY_BYTES,
  type StoredRecords,
  packTarget,
  savePart,
  sourceStateName,
  TARGET_STATE_NAME,
  unpackSource,
  readAdHeader,
  repackAdHeader,
  targetObjectsByAnchor,
  type SourceState,
  type AdStateHeader,
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
  /**
   * `adsync plan` with the stored plan (plan-memo.ts): the spec path and adsync version the plan is stored
   * under. LDIF exports are then indexed by record as they are read, for patching after local edits.
   */
  plan?: { specPath: string; toolVersion: string };
}

/** What a patch of the stored plan needs from the session besides the state (./local-edits.ts). */
export interface PatchContext {
  flows: Record<ObjectKind, KindFlows>;
  requests: readonly { source: SourceSpec; request: SourceReadRequest }[];
  deleteMark: string | undefined;
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
    private readonly planned?: { specPath: string; toolVersion: string },
  ) {}

  static open(spec: Spec, options: IncrementalOptions = {}): IncrementalReads {
    const backend = options.backend !== undefined ? Promise.resolve(options.backend) : openState(spec);
    backend.catch(() => undefined); // awaited by the first read; a failure surfaces there
    return new IncrementalReads(spec, backend, options.full === true, options.now, options.plan);
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
    const indexing = this.planned !== undefined && connector instanceof LdifSource;
    if (indexing) connector.indexRecords = true;
    const [loaded, snapshot] = await Promise.all([this.load(name, unpackSource), connector.read(request)]);
    const parsed = connector instanceof LdifSource ? connector.contentDigest : undefined;
    this.sourceKeys.set(source.name, parsed === undefined ? undefined : { source: source.name, scope, digest: parsed });
    if (indexing && connector.records !== undefined && connector.ordinals !== undefined)
      this.indexed.set(source.name, {
        index: connector.records,
        ordinals: connector.ordinals,
        namingContexts: snapshot.namingContexts,
      });
    const prior = loaded.value;
    const why =
      prior === undefined
        ? this.whyFull(loaded)
        : prior.scope !== scope
          ? 'the read scope changed (search bases, filter or attributes)'
          : parsed === undefined || prior.digest !== parsed
            ? `the LDIF export changed${this.unpatched !== undefined ? ` (the stored plan was not patched: ${this.unpatched})` : ''}`
            : undefined;
    this.parts.set(
      part,
      why === undefined
        ? { part, mode: 'incremental', reason: 'the LDIF export is unchanged', changes: 0 }
        : { part, mode: 'full', reason: why },
    );
    // Stored when the export changed, and after every read that indexed its records: they belong to this run's plan.
    if (parsed !== undefined && (why !== undefined || indexing))
      this.pending.push({ name, bytes: () => this.packLdif(source.name, scope, parsed), etag: loaded.etag });
    return snapshot;
  }

  /** The records the read indexed, with the shared digest of each record's user (noteDesired), for the state. */
  private readonly indexed = new Map<
    string,
    { index: LdifRecordIndex; ordinals?: Map<string, number>; namingContexts: NamingContext[]; shared?: Buffer }
  >();
  /** Why the stored plan could not be patched, when a patch was tried (the LDIF part's reason says it). */
  private unpatched: string | undefined;

  /**
   * The desired state built from this run's reads: the shared digest of each LDIF record's user
   * (../engine/local-edits.ts), stored with the records for the next run's patch.
   */
  noteDesired(desired: DesiredState, snapshots: readonly SourceSnapshot[]): void {
    for (const [name, x] of this.indexed) {
      const snapshot = snapshots.find((s) => s.source === name);
      if (x.ordinals === undefined || snapshot === undefined) continue;
      const verdicts = entryVerdicts(desired, name);
      const shared = Buffer.alloc(x.index.count * SHARED_DIGEST_BYTES);
      for (const entry of snapshot.entries) {
        const i = x.ordinals.get(entry.dn);
        const d = i === undefined ? undefined : verdicts.verdict(entry);
        if (d !== undefined) d.copy(shared, i! * SHARED_DIGEST_BYTES);
      }
      x.shared = shared;
      delete x.ordinals; // no longer needed: a map of every DN
    }
  }

  private packLdif(source: string, scope: string, digest: string): Promise<Buffer> {
    const x = this.indexed.get(source);
    const base = this.baseKey();
    let records: StoredRecords | undefined;
    if (x?.shared !== undefined && base !== undefined) {
      const { index, shared } = x;
      const out = Buffer.alloc(index.count * RECORD_ENTRY_BYTES);
      for (let i = 0; i < index.count; i++) {
        const at = i * RECORD_ENTRY_BYTES;
        index.keys.copy(out, at, i * KEY_BYTES, (i + 1) * KEY_BYTES);
        index.digests.copy(out, at + KEY_BYTES, i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
        shared.copy(out, at + KEY_BYTES + DIGEST_BYTES, i * SHARED_DIGEST_BYTES, (i + 1) * SHARED_DIGEST_BYTES);
      }
      records = { basis: base, count: index.count, frame: index.frame, index: out, namingContexts: x.namingContexts };
    }
    return packSource({ scope, digest, ...(records !== undefined ? { records } : {}) })();
  }

  /**
   * What the stored plan is made under besides the exports' bytes: adsync, the spec and every source's read
   * scope (the memo key with the digests left out). Records stored under another basis are never patched from.
   */
  private baseKey(): string | undefined {
    if (this.planned === undefined) return undefined;
    const keys: SourceKey[] = [];
    for (const s of this.spec.sources) {
      const k = this.sourceKeys.get(s.name);
      if (k === undefined) return undefined;
      keys.push({ ...k, digest: '' });
    }
    return memoKey({ ...this.planned, specDigest: this.spec.digest, sources: keys });
  }

  /** An AD source: changes since the last read folded into the stored snapshot (./ad-incremental.ts). */
  private async readAd(source: SourceSpec, ad: AdSource, request: SourceReadRequest): Promise<SourceSnapshot> {
    const part = `source ${source.name}`;
    const name = sourceStateName(source.name);
    const [loaded] = await Promise.all([
      this.load(name, async (bytes) => ({ bytes, state: await unpackSource(bytes) })),
      ad.connect(),
    ]);
    const forced = loaded.value === undefined ? this.whyFull(loaded) : undefined;
    const stored = loaded.value?.state;
    const out = await readAdIncremental(ad, request, part, stored, forced, this.now());
    this.parts.set(part, out.read);
    const advanced: SourceState | undefined =
      stored?.ad !== undefined && out.advanced !== undefined
        ? { ...stored, ad: { ...stored.ad, ...out.advanced } }
        : undefined;
    if (out.state !== undefined || stored?.headerless === true)
      // A state from before the header is rewritten as it is (the stored plan's check reads only the header).
      this.pending.push({ name, bytes: packSource(out.state ?? stored!), etag: loaded.etag });
    else if (advanced !== undefined) {
      // Where the next read starts moved: the header alone is rewritten (the snapshot's bytes stay as they are).
      const bytes = loaded.value!.bytes;
      const header = { scope: advanced.scope, ad: out.advanced! };
      this.pending.push({
        name,
        bytes: async () => (await repackAdHeader(bytes, header)) ?? (await packSource(advanced)()),
        etag: loaded.etag,
      });
    }
    // The stored plan is keyed by where the state that stays starts its next read (ad-incremental.ts adPosition),
    // unless that next read is a full one anyway.
    const kept = out.state ?? advanced ?? stored;
    const followable =
      kept?.ad !== undefined &&
      kept.ad.unfollowable === undefined &&
      !request.attributes.some((a) => BACK_LINKS.has(a.toLowerCase()));
    this.sourceKeys.set(
      source.name,
      followable ? { source: source.name, scope: kept.scope, digest: adPosition(kept.ad!) } : undefined,
    );
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
   * The stored plan, when adsync, the spec and every source are what it was made from (the tenant, the clock and
   * whether an AD source's DC has anything new are reuse()'s to check). Undefined with --full or without one.
   * An AD source is keyed by its stored state's header (scope, where the next read starts): no snapshot decoded.
   */
  candidate(
    sources: readonly { source: SourceSpec; request: SourceReadRequest }[],
    specPath: string,
    toolVersion: string,
  ): Promise<PlanMemo | undefined> {
    this.memo ??= (async () => {
      if (this.full || sources.some((s) => !s.source.ldif && !s.source.ldap)) return undefined;
      const backend = await this.backend;
      const memo = await loadMemo(backend);
      if (memo === undefined) return undefined;
      const keys: SourceKey[] = [];
      for (const { source, request } of sources) {
        if (!source.ldif) {
          const stored = await backend.read(sourceStateName(source.name));
          const header = stored === undefined ? undefined : await readAdHeader(stored.bytes).catch(() => undefined);
          if (header === undefined) return undefined;
          this.adChecks.push({ source, request, header });
          keys.push({ source: source.name, scope: header.scope, digest: adPosition(header.ad) });
          continue;
        }
        // With spans: when only the bytes differ, the patch reads the edited records by them.
        const scan = await scanLdifFile(resolve(this.spec.dir, source.ldif.path), { spans: true });
        if (scan === undefined) return undefined;
        this.scans.set(source.name, scan);
        keys.push({ source: source.name, scope: this.ldifScope(source, request), digest: scan.digest });
      }
      const key = memoKey({ toolVersion, specDigest: this.spec.digest, specPath, sources: keys });
      this.keyedAs = { specPath, toolVersion };
      if (memo.key === key) return memo;
      // Only the exports' bytes differ: a patch may do (reuse), when their records say the edits are local.
      if (this.adChecks.length > 0) return undefined; // (LDIF exports only)
      const base = memoKey({
        toolVersion,
        specDigest: this.spec.digest,
        specPath,
        sources: keys.map((k) => ({ ...k, digest: '' })),
      });
      if (memo.base === base) {
        this.inexact = true;
        return memo;
      }
      return undefined;
    })();
    return this.memo;
  }

  /** The AD sources of the candidate: their request and stored header, for reuse() to ask their DC. */
  private readonly adChecks: { source: SourceSpec; request: SourceReadRequest; header: AdStateHeader }[] = [];

  /**
   * Whether every AD source's DC has nothing new since the candidate's states (ad-incremental.ts
   * adUnchangedSince), their parts as the plan's read names them; undefined when one has (or can't tell).
   */
  private async adUnchanged(): Promise<PartRead[] | undefined> {
    const parts = await Promise.all(
      this.adChecks.map(async ({ source, request, header }): Promise<PartRead | undefined> => {
        const ad = new AdSource(source, this.spec.dir);
        try {
          if ((await adUnchangedSince(ad, request, header, this.now())) !== undefined) return undefined;
        } finally {
          await ad.close();
        }
        return {
          part: `source ${source.name}`,
          mode: 'incremental',
          reason:
            header.ad.mode === 'dirsync'
              ? 'DirSync: no change since the stored plan'
              : `uSNChanged: highestCommittedUSN still ${header.ad.watermark.usn}`,
          changes: 0,
        };
      }),
    );
    return parts.some((p) => p === undefined) ? undefined : (parts as PartRead[]);
  }

  /** The candidate is for other exports' bytes: shown only patched (./local-edits.ts). */
  private inexact = false;
  /** The exports as candidate() scanned them. */
  private readonly scans = new Map<string, LdifRecordIndex>();
  /** What candidate() keyed the stored plan with. */
  private keyedAs: { specPath: string; toolVersion: string } | undefined;

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
    patch?: PatchContext,
  ): Promise<PlanMemo | undefined> {
    if (!withinWindow(memo.clock, now) || target.probeDelta === undefined || request.readLicenses === true)
      return undefined;
    if (this.inexact && patch === undefined) return undefined;
    // The tenant's round and the AD sources' DCs asked together.
    const [probe, adParts] = await Promise.all([target.probeDelta(request, memo.target.links), this.adUnchanged()]);
    if ('refused' in probe || probe.scope !== memo.target.scope) return undefined;
    if (probe.round.changes > 0 || probe.fingerprint !== memo.target.fingerprint) {
      this.probed = probe.round;
      return undefined;
    }
    if (adParts === undefined) return undefined;
    let shown = memo;
    const edits = new Map<string, number>();
    if (this.inexact) {
      const patched = await this.patch(memo, target, patch!, probe.round.directorySync, now);
      if ('refused' in patched) {
        this.unpatched = patched.refused;
        return undefined;
      }
      shown = patched.memo;
      for (const [name, n] of patched.edited) edits.set(name, n);
    }
    for (const p of adParts) this.parts.set(p.part, p);
    for (const source of sources) {
      if (!source.ldif) continue;
      const part = `source ${source.name}`;
      const n = edits.get(source.name);
      this.parts.set(
        part,
        n === undefined || n === 0
          ? { part, mode: 'incremental', reason: 'the LDIF export is unchanged', changes: 0 }
          : {
              part,
              mode: 'incremental',
              reason: 'records edited in properties only their own changes read',
              changes: n,
            },
      );
    }
    this.parts.set('target', { part: 'target', mode: 'incremental', reason: 'Graph delta', changes: 0 });
    this.parts.set('plan', {
      part: 'plan',
      mode: 'incremental',
      reason: this.inexact
        ? 'the stored plan, with the edited users planned anew'
        : 'spec, sources and tenant unchanged since the stored plan: shown again without planning',
    });
    if (this.inexact) {
      await this.save();
      const size = await saveMemo(await this.backend, shown);
      if (size !== undefined) this.saved[PLAN_MEMO_NAME] = size;
    }
    return shown;
  }

  /** The stored plan patched for the exports' local edits, with the state to store (./local-edits.ts). */
  private async patch(
    memo: PlanMemo,
    target: EntraTarget,
    ctx: PatchContext,
    directorySync: TargetSnapshot['directorySync'],
    now: Date,
  ): Promise<{ memo: PlanMemo; edited: Map<string, number> } | { refused: string }> {
    const backend = await this.backend;
    const edited: EditedSource[] = [];
    const keys: SourceKey[] = [];
    const etags = new Map<string, string | undefined>();
    for (const { source, request } of ctx.requests) {
      const path = resolve(this.spec.dir, source.ldif!.path);
      const name = sourceStateName(source.name);
      const loaded = await loadPart(backend, name, unpackSource);
      const scan = this.scans.get(source.name);
      const stored = loaded.value?.records;
      if (stored === undefined || stored.basis !== memo.base)
        return { refused: `no record index of source ${source.name} for this spec` };
      if (scan === undefined) return { refused: `source ${source.name} can't be read` };
      const scope = this.ldifScope(source, request);
      if (loaded.value?.scope !== scope) return { refused: `the read scope of source ${source.name} changed` };
      edited.push({ source, request, path, stored, index: scan });
      keys.push({ source: source.name, scope, digest: scan.digest });
      etags.set(source.name, loaded.etag);
    }
    let result;
    try {
      result = await patchForLocalEdits({
        stored: memo.plan,
        storedClock: memo.clock,
        spec: this.spec,
        specPath: this.keyedAs!.specPath,
        toolVersion: this.keyedAs!.toolVersion,
        flows: ctx.flows,
        sources: edited,
        target: async (anchors, ids) => {
          const stored = await backend.read(TARGET_STATE_NAME);
          return stored === undefined ? undefined : targetObjectsByAnchor(stored.bytes, anchors, ids);
        },
        tenant: target.tenant,
        directorySync,
        extensions: target.extensions,
        deleteMark: ctx.deleteMark,
        now,
      });
    } catch (err) {
      // The stored target in another format, or an edited record the reader refuses (the full read then says
      // where, with the file's line numbers).
      if (err instanceof StateError) return { refused: `the stored target state is unreadable (${err.message})` };
      return { refused: `an edited record could not be read (${(err as Error).message})` };
    }
    if ('refused' in result) return result;
    for (const e of edited) {
      const key = keys.find((k) => k.source === e.source.name)!;
      const records = result.records.get(e.source.name)!;
      const bytes = packSource({ scope: key.scope, digest: key.digest, records });
      this.pending.push({ name: sourceStateName(e.source.name), bytes, etag: etags.get(e.source.name) });
    }
    const key = memoKey({ ...this.keyedAs!, specDigest: this.spec.digest, sources: keys });
    return { memo: { ...memo, key, clock: result.clock, plan: result.plan }, edited: result.edited };
  }

  /**
   * Stores this run's plan for the next run to reuse, when every part of it can be told unchanged later (LDIF
   * sources, AD sources whose next read is incremental, the target read through delta) and the engine was not
   * asked for more than the plan.
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
      base: memoKey({
        toolVersion,
        specDigest: this.spec.digest,
        specPath,
        sources: (keys as SourceKey[]).map((k) => ({ ...k, digest: '' })),
      }),
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
