/**
 * Incremental reads (issue 15): each source and the target is read from its stored state when that state is
 * for the same read scope and still valid, else in full, and the plan says which and why. The engine then
 * plans from the snapshots as usual: an incremental read yields the snapshot a full read would have.
 *
 *   LDIF    the export's content digest: unchanged → the stored snapshot; changed → parsed again (full).
 *   Entra   Graph delta links (./connectors/entra/delta.ts): changes folded into the stored snapshot.
 *   AD      uSNChanged polling as a change detector (../connectors/ad/usn.ts): no relevant change since the
 *           DC's watermark → the stored snapshot; any → read in full (changes are not folded in; DirSync is
 *           not implemented).
 *
 * Full read when: no state, `--full`, the scope changed (the part's digest of what it reads), the stored state
 * is unreadable, Graph refuses the link (410, expired token).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { EntraReadRequest, EntraTarget, PartRead, TargetDeltaState } from '../connectors/entra/index.js';
import { ldifDigest } from '../connectors/ldif/incremental.js';
import { AdSource } from '../connectors/ad/index.js';
import { guidsUnder, readWatermark, refersOutside, relevantChange } from '../connectors/ad/usn.js';
import type { SourceConnector, SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import type { TargetSnapshot } from '../model/target.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import type { StateBackend } from '../state/backend.js';
import { openState } from '../state/open.js';
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
  type SourceState,
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
}

const digest = (o: unknown): string => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 32);

export class IncrementalReads {
  /** Part name → how it was read last (a second plan in one session reads again). */
  private readonly parts = new Map<string, PartRead>();
  private readonly pending: { name: string; bytes: () => Buffer; etag: string | undefined }[] = [];
  private readonly saved: Record<string, number> = {};

  private constructor(
    private readonly spec: Spec,
    private readonly backend: Promise<StateBackend>,
    private readonly full: boolean,
  ) {}

  static open(spec: Spec, options: IncrementalOptions = {}): IncrementalReads {
    const backend = options.backend !== undefined ? Promise.resolve(options.backend) : openState(spec);
    backend.catch(() => undefined); // awaited by the first read; a failure surfaces there
    return new IncrementalReads(spec, backend, options.full === true);
  }

  private async load<T>(name: string, decode: (b: Buffer) => T): Promise<Loaded<T>> {
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
      return connector.read(request);
    }
    const path = resolve(this.spec.dir, source.ldif.path);
    const scope = digest({ kind: 'ldif', path, request });
    const name = sourceStateName(source.name);
    const [loaded, content] = await Promise.all([this.load(name, unpackSource), ldifDigest(path)]);
    const prior = loaded.value;
    let why: string;
    if (prior === undefined) why = this.whyFull(loaded);
    else if (prior.scope !== scope) why = 'the read scope changed (search bases, filter or attributes)';
    else if (content === undefined || prior.digest !== content) why = 'the LDIF export changed';
    else {
      this.parts.set(part, { part, mode: 'incremental', reason: 'the LDIF export is unchanged', changes: 0 });
      return prior.snapshot;
    }
    const snapshot = await connector.read(request);
    this.parts.set(part, { part, mode: 'full', reason: why });
    if (content !== undefined) {
      const state: SourceState = { scope, digest: content, snapshot };
      this.pending.push({ name, bytes: packSource(state), etag: loaded.etag });
    }
    return snapshot;
  }

  /**
   * An AD source: the stored snapshot when nothing it depends on changed since the DC's watermark (uSNChanged
   * polling, ../connectors/ad/usn.ts), else a full read, which stores a new watermark taken before it.
   */
  private async readAd(source: SourceSpec, ad: AdSource, request: SourceReadRequest): Promise<SourceSnapshot> {
    const part = `source ${source.name}`;
    const name = sourceStateName(source.name);
    const [loaded, conn] = await Promise.all([this.load(name, unpackSource), ad.connect()]);
    const { client, settings } = conn;
    const watermark = await readWatermark(client);
    const { bases, namingContexts } = await ad.resolveBases(client, settings, request);
    // What the source reads and from where, as resolved (a base DN from the environment counts by its value; the
    // URL carries no secret: credentials in it are refused by validate).
    const scope = digest({ kind: 'ldap', url: settings.url, bases, request });
    const prior = loaded.value;
    let why: string;
    if (prior === undefined) why = this.whyFull(loaded);
    else if (prior.scope !== scope || prior.ad === undefined)
      why = 'the read scope changed (search bases, filter or attributes)';
    else if (prior.ad.watermark.dc !== watermark.dc) why = `another domain controller (${watermark.dc})`;
    else if (prior.ad.watermark.invocationId !== watermark.invocationId)
      why = "the domain controller's invocationId changed (restored from a backup)";
    else {
      const change = await relevantChange(client, {
        partitions: namingContexts.map((nc) => nc.dn),
        bases,
        since: prior.ad.watermark,
        known: new Set(prior.ad.guids),
        refersOutside: prior.ad.refersOutside,
        pageSize: settings.pageSize,
      });
      if (change === undefined) {
        this.parts.set(part, {
          part,
          mode: 'incremental',
          reason: `no change in scope since USN ${prior.ad.watermark.usn} (uSNChanged)`,
          changes: 0,
        });
        return prior.snapshot;
      }
      why = `AD changed since USN ${prior.ad.watermark.usn}: ${change}`;
    }
    const snapshot = await ad.read(request);
    const guids = await guidsUnder(client, bases, settings.pageSize);
    this.parts.set(part, { part, mode: 'full', reason: why });
    const state: SourceState = {
      scope,
      ad: { watermark, guids, refersOutside: refersOutside(snapshot, bases) },
      snapshot,
    };
    this.pending.push({ name, bytes: packSource(state), etag: loaded.etag });
    return snapshot;
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
    const out = await target.readIncremental(request, loaded.value, full);
    this.parts.set(out.read.part, out.read);
    // A fold that saw nothing leaves the stored state as good as new: its links stay valid (7 days).
    if (out.read.mode === 'full' || (out.read.changes ?? 0) > 0) {
      const state: TargetDeltaState = out.state;
      this.pending.push({ name: TARGET_STATE_NAME, bytes: () => packTarget(state), etag: loaded.etag });
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
      const size = await savePart(backend, p.name, p.bytes(), p.etag);
      if (size !== undefined) this.saved[p.name] = size;
    }
  }
}
