/**
 * The incremental state (DESIGN §5 `state:`, issue 15): the last observed snapshot of every source and of the
 * target, with what the next run needs to read only the changes (an LDIF export's content digest, Graph's
 * delta links). One gzipped JSON blob per part (each source, the target) in the state backend, written only
 * over the version that was read (ETag), so two runs never overwrite each other's state.
 *
 * Compact: a DN or object id that names another object of the same snapshot is stored as that object's
 * index (a million memberships cost a number each), bytes as base64. No secret: snapshots hold what
 * adsync reads (never passwords), links hold Graph's opaque tokens, scopes are digests.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, createGunzip, createGzip, gunzip, gzip, inflateRawSync } from 'node:zlib';
import type { AttrValue, DirectoryEntry, SourceSnapshot } from '../model/entry.js';
import type { TargetObject } from '../model/target.js';
import type { TargetDeltaState } from '../connectors/entra/delta.js';
import type { AdWatermark } from '../connectors/ad/usn.js';
import type { TrackedRecord } from '../connectors/ad/fold.js';
import type { StateBackend } from '../state/backend.js';
import { StateConflictError, StateError } from '../state/backend.js';

const FORMAT = 'adsync-sync-state/1';

/**
 * One source's last read: its scope digest, what tells a change (LDIF digest, AD watermark), and the snapshot
 * (AD; an LDIF export is its own snapshot: parsing it costs what decoding a stored copy would).
 */
export interface SourceState {
  scope: string;
  /** LDIF: the export's content digest (sha256). */
  digest?: string;
  /** AD: the DC's watermark, DirSync cookies and the objects tracked by objectGUID. */
  ad?: AdSourceState;
  snapshot?: SourceSnapshot;
  /** LDIF: the export's records, for patching the stored plan after local edits (src/sync/local-edits.ts). */
  records?: StoredRecords;
  /** AD: read from a blob without the header (written before it): rewritten by the next read. Not stored. */
  headerless?: true;
}

/** Bytes per record in StoredRecords.index: its key, its content digest, its user's shared digest (or zeros). */
export const RECORD_ENTRY_BYTES = 8 + 16 + 8;

/** An LDIF export's records as the last full read saw them (../connectors/ldif/records.ts). */
export interface StoredRecords {
  /** The memo base key the shared digests were computed under (plan-memo.ts): patches need the same. */
  basis: string;
  count: number;
  /** Digest of the blocks that are not records. */
  frame: string;
  /** RECORD_ENTRY_BYTES per record, in file order. */
  index: Buffer;
  /** The naming contexts the whole export gave (a patch reads a few records only). */
  namingContexts: SourceSnapshot['namingContexts'];
}

/** AD: where the next read starts, and the objects tracked beside the snapshot's entries (../connectors/ad/fold.ts). */
export interface AdSourceState {
  /** 2: change tracking by objectGUID (an earlier state, a change detector, is read once in full). */
  v: 2;
  /** The DC's watermark taken before the last read (uSNChanged polling; the DC and its invocationId for both). */
  watermark: AdWatermark;
  /** How changes are read: DirSync (the account holds Replicating Directory Changes) or uSNChanged polling. */
  mode: 'dirsync' | 'usn';
  /** DirSync: the cookie per naming context (normalized DN → base64). */
  cookies?: Record<string, string>;
  /** uSNChanged: whether the account sees tombstones (else deletions are found by listing the bases). */
  tombstones?: boolean;
  /** Objects other than the entries: under the bases (c computer, o other) or named by an entry outside them (r). */
  others: TrackedRecord[];
  /** When the last read ended (the tombstone lifetime bounds how old it may be). */
  at: string;
  /** Why the next read can't be incremental, when the last one found so. */
  unfollowable?: string;
}

// ---- encoding ----

type EncValue = string | number | { b: string };
type EncEntry = [dn: string, attrs: Record<string, EncValue[]>, unread?: Record<string, string>];
interface EncSource {
  scope: string;
  digest?: string;
  ad?: AdSourceState;
  records?: {
    basis: string;
    count: number;
    frame: string;
    index: string;
    namingContexts: SourceSnapshot['namingContexts'];
  };
  /** The snapshot, when stored (absent: none). */
  source?: string;
  namingContexts?: SourceSnapshot['namingContexts'];
  computers?: string[];
  entries?: EncEntry[];
}
type EncObject = [
  id: string,
  kind: TargetObject['kind'],
  attrs: Record<string, unknown>,
  rest: { a?: string; d?: string; m?: (string | number)[]; r?: string[]; x?: Partial<TargetObject> },
];
interface EncTarget {
  scope: string;
  links: TargetDeltaState['links'];
  objects: EncObject[];
  deleted: EncObject[];
  adminRolesUnread?: string;
}

function encodeSource(s: SourceState): EncSource {
  const head: EncSource = {
    scope: s.scope,
    ...(s.digest !== undefined ? { digest: s.digest } : {}),
    ...(s.ad !== undefined ? { ad: s.ad } : {}),
    ...(s.records !== undefined ? { records: { ...s.records, index: s.records.index.toString('base64') } } : {}),
  };
  const snapshot = s.snapshot;
  if (snapshot === undefined) return head;
  const index = new Map<string, number>();
  snapshot.entries.forEach((e, i) => index.set(e.dn, i));
  // Only a value with '=' can be a DN: the lookup in a map of every DN is the costly part.
  const value = (v: AttrValue): EncValue =>
    typeof v === 'string' ? (v.includes('=') ? (index.get(v) ?? v) : v) : { b: Buffer.from(v).toString('base64') };
  return {
    ...head,
    source: snapshot.source,
    namingContexts: snapshot.namingContexts,
    ...(snapshot.computers !== undefined ? { computers: snapshot.computers } : {}),
    entries: snapshot.entries.map((e) => {
      const attrs: Record<string, EncValue[]> = {};
      for (const [k, vs] of Object.entries(e.attrs)) attrs[k] = vs.map(value);
      return e.unread !== undefined ? [e.dn, attrs, e.unread] : [e.dn, attrs];
    }),
  };
}

function decodeSource(s: EncSource): SourceState {
  const head: SourceState = {
    scope: s.scope,
    ...(s.digest !== undefined ? { digest: s.digest } : {}),
    ...(s.ad !== undefined ? { ad: s.ad } : {}),
    ...(s.records !== undefined ? { records: { ...s.records, index: Buffer.from(s.records.index, 'base64') } } : {}),
  };
  if (s.entries === undefined || s.source === undefined || s.namingContexts === undefined) return head;
  const dns = s.entries.map((e) => e[0]);
  const value = (v: EncValue): AttrValue =>
    typeof v === 'string' ? v : typeof v === 'number' ? dns[v]! : new Uint8Array(Buffer.from(v.b, 'base64'));
  const entries: DirectoryEntry[] = s.entries.map(([dn, enc, unread]) => {
    const attrs: Record<string, AttrValue[]> = {};
    for (const [k, vs] of Object.entries(enc)) attrs[k] = vs.map(value);
    return unread !== undefined ? { dn, attrs, unread } : { dn, attrs };
  });
  return {
    ...head,
    snapshot: {
      source: s.source,
      namingContexts: s.namingContexts,
      entries,
      ...(s.computers !== undefined ? { computers: s.computers } : {}),
    },
  };
}

/** One object as stored: member ids that name an object of the snapshot become its index. */
function encodeObject(o: TargetObject, index: ReadonlyMap<string, number>): EncObject {
  const { id, kind, attrs, anchor, digest, members, adminRoles, ...other } = o;
  const rest: EncObject[3] = {};
  if (anchor !== undefined) rest.a = anchor;
  if (digest !== undefined) rest.d = digest;
  if (members !== undefined) rest.m = members.map((m) => index.get(m) ?? m);
  if (adminRoles !== undefined) rest.r = adminRoles;
  // Every other field as it is (who masters the object, its SID, …): a fold must not forget what a full read knows.
  if (Object.keys(other).length > 0) rest.x = other;
  return [id, kind, attrs, rest];
}

/**
 * One stored object as a read gives it. Member indexes name the objects of `ids` (the live objects in stored
 * order); without `ids` (objects picked alone) a group can't be decoded.
 */
function decodeObject([id, kind, attrs, rest]: EncObject, ids?: readonly string[]): TargetObject {
  if (rest.m !== undefined && ids === undefined)
    throw new StateError('state_format', 'a group was asked for alone (its members name objects by index)', '');
  return {
    ...rest.x,
    id,
    kind,
    attrs,
    ...(rest.a !== undefined ? { anchor: rest.a } : {}),
    ...(rest.d !== undefined ? { digest: rest.d } : {}),
    ...(rest.m !== undefined ? { members: rest.m.map((m) => (typeof m === 'number' ? ids![m]! : m)) } : {}),
    ...(rest.r !== undefined ? { adminRoles: rest.r } : {}),
  };
}

function decodeTarget(t: EncTarget): TargetDeltaState {
  const ids = t.objects.map((o) => o[0]);
  const obj = (o: EncObject): TargetObject => decodeObject(o, ids);
  return {
    scope: t.scope,
    links: t.links,
    snapshot: {
      system: 'entra',
      objects: t.objects.map(obj),
      deleted: t.deleted.map(obj),
      ...(t.adminRolesUnread !== undefined ? { adminRolesUnread: t.adminRolesUnread } : {}),
    },
  };
}

/** Blob names: one per part, so a run rewrites only the parts that changed. */
export function sourceStateName(source: string): string {
  const safe = source.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
  return `sync-source-${safe}-${createHash('sha256').update(source).digest('hex').slice(0, 8)}.json.gz`;
}
export const TARGET_STATE_NAME = 'sync-target.json.gz';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * JSON on this thread, compression on libuv's pool: started when the part is read, it runs beside the planning
 * (two cores), and only the compressed bytes wait for the save.
 */
function pack(o: object): Promise<Buffer> {
  // Level 1: a changed part is rewritten on every run; speed matters more than the last MiB.
  const packed = gzipAsync(JSON.stringify({ format: FORMAT, ...o }), { level: constants.Z_BEST_SPEED });
  packed.catch(() => undefined); // awaited by the save; a failure surfaces there
  return packed;
}

/**
 * An AD source's state is header-first: a gzip member with one line — AD_HEADER_FORMAT, the read scope and where
 * the next read starts (watermark, DirSync cookies, mode, when) — then a member with the state as one JSON. The
 * stored plan's check (incremental.ts) reads the header alone (readAdHeader) and never decodes the snapshot.
 */
const AD_HEADER_FORMAT = 'adsync-sync-ad/1';

/** What an AD state's header holds: everything but the tracked objects and the snapshot. */
export interface AdStateHeader {
  scope: string;
  ad: Omit<AdSourceState, 'others'>;
}

/** A source's state, encoded and compressing from read time (before the engine takes the snapshot). */
export function packSource(s: SourceState): () => Promise<Buffer> {
  const body = pack(encodeSource(s));
  if (s.ad === undefined) return () => body;
  const { others: _o, ...ad } = s.ad;
  const header = packHeader({ scope: s.scope, ad });
  const packed = Promise.all([header, body]).then((parts) => Buffer.concat(parts));
  packed.catch(() => undefined); // awaited by the save; a failure surfaces there
  return () => packed;
}

function packHeader(h: AdStateHeader): Promise<Buffer> {
  return gzipAsync(`${JSON.stringify({ format: AD_HEADER_FORMAT, scope: h.scope, ad: h.ad })}\n`, {
    level: constants.Z_BEST_SPEED,
  });
}

/**
 * The AD state `bytes` with its header replaced and the rest's compressed bytes kept as they are: where the next
 * read starts moved, nothing else did (decoding takes the header's fields over the rest's). Undefined when the
 * blob does not start with a header member as packSource writes it (then pack the whole state).
 */
export async function repackAdHeader(bytes: Buffer, header: AdStateHeader): Promise<Buffer | undefined> {
  // A gzip member as zlib writes it: magic, deflate, no optional fields (10 bytes), the deflate stream, 8 bytes.
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8 || bytes[3] !== 0) return undefined;
  let consumed: number;
  try {
    const first = inflateRawSync(bytes.subarray(10), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    adHeader(first.buffer.subarray(0, first.buffer.indexOf(10)));
    consumed = first.engine.bytesWritten;
  } catch {
    return undefined;
  }
  const rest = bytes.subarray(10 + consumed + 8);
  if (rest.length === 0) return undefined;
  return Buffer.concat([await packHeader(header), rest]);
}

function adHeader(line: Buffer): AdStateHeader {
  const h = JSON.parse(line.toString('utf8')) as Partial<AdStateHeader> & { format?: unknown };
  // Caught by loadPart and the stored plan's check: an unusable state means a full read.
  if (h.format !== AD_HEADER_FORMAT || h.scope === undefined || h.ad === undefined)
    throw new StateError('state_format', `format ${String(h.format)}, not ${AD_HEADER_FORMAT}`, '');
  return { scope: h.scope, ad: h.ad };
}

export const unpackSource = async (bytes: Buffer): Promise<SourceState> => {
  const text = await gunzipAsync(bytes);
  // One JSON has no raw newline: a first line is an AD state's header (the members inflate as one text).
  const nl = text.indexOf(10);
  const header = nl === -1 ? undefined : adHeader(text.subarray(0, nl));
  const enc = JSON.parse(text.toString('utf8', nl + 1)) as EncSource & { format?: unknown };
  // Caught by loadPart: an unusable state means a full read.
  if (enc.format !== FORMAT) throw new StateError('state_format', `format ${String(enc.format)}, not ${FORMAT}`, '');
  const state = decodeSource(enc);
  // The header may be newer than the rest (repackAdHeader): where the next read starts is the header's.
  if (header !== undefined && state.ad !== undefined) return { ...state, ad: { ...state.ad, ...header.ad } };
  return header === undefined && state.ad !== undefined ? { ...state, headerless: true } : state;
};

/**
 * An AD state's header, inflating only as far as its first line (the snapshot stays compressed). Throws
 * StateError when the blob has none (an LDIF source's state, or one written before headers).
 */
export async function readAdHeader(bytes: Buffer): Promise<AdStateHeader> {
  const inflate = createGunzip({ chunkSize: 1 << 16 });
  inflate.end(bytes);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      const nl = chunk.indexOf(10);
      if (nl !== -1) return adHeader(Buffer.concat([...chunks, chunk.subarray(0, nl)]));
      chunks.push(chunk);
    }
  } finally {
    inflate.destroy();
  }
  throw new StateError('state_format', `no ${AD_HEADER_FORMAT} header`, '');
}

/**
 * The target's state, one line per object: a header line (format, scope, links), then `anchor TAB object` for
 * each object and, after a `deleted` line, each soft-deleted one. Line by line, so a patch of the stored plan
 * (local-edits.ts) picks the few objects it needs by anchor without decoding a hundred thousand others.
 */
const TARGET_FORMAT = 'adsync-sync-target/2';
const DELETED_LINE = '\tdeleted';

export function packTarget(t: TargetDeltaState): Promise<Buffer> {
  const index = new Map<string, number>();
  t.snapshot.objects.forEach((o, i) => index.set(o.id, i));
  // Level 1: a changed part is rewritten on every run; speed matters more than the last MiB.
  const gz = createGzip({ level: constants.Z_BEST_SPEED });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const packed = new Promise<Buffer>((ok, fail) => {
    gz.on('end', () => ok(Buffer.concat(out)));
    gz.on('error', fail);
  });
  packed.catch(() => undefined); // awaited by the save; a failure surfaces there
  // The lines go to the compressor in pieces of about 1 MiB as they are made: never one string of the whole
  // state (at 100k users that string and its UTF-8 copy were ~260 MB held while the plan was made).
  let batch: string[] = [];
  let size = 0;
  let sep = ''; // lines are joined by newlines (none after the last)
  const add = (line: string): void => {
    batch.push(sep, line);
    sep = '\n';
    size += line.length + 1;
    if (size >= 1 << 20) {
      gz.write(Buffer.from(batch.join(''), 'utf8'));
      batch = [];
      size = 0;
    }
  };
  add(
    JSON.stringify({
      format: TARGET_FORMAT,
      scope: t.scope,
      links: t.links,
      ...(t.snapshot.adminRolesUnread !== undefined ? { adminRolesUnread: t.snapshot.adminRolesUnread } : {}),
    }),
  );
  for (const o of t.snapshot.objects) add(`${o.anchor ?? ''}\t${JSON.stringify(encodeObject(o, index))}`);
  add(DELETED_LINE);
  for (const o of t.snapshot.deleted) add(`${o.anchor ?? ''}\t${JSON.stringify(encodeObject(o, index))}`);
  gz.end(Buffer.from(batch.join(''), 'utf8'));
  return packed;
}

interface TargetHeader {
  format?: unknown;
  scope: string;
  links: TargetDeltaState['links'];
  adminRolesUnread?: string;
}

function targetHeader(text: Buffer): { header: TargetHeader; body: number } {
  const nl = text.indexOf(10);
  const header = JSON.parse(text.toString('utf8', 0, nl === -1 ? text.length : nl)) as TargetHeader;
  // Caught by loadPart: an unusable state means a full read.
  if (header.format !== TARGET_FORMAT)
    throw new StateError('state_format', `format ${String(header.format)}, not ${TARGET_FORMAT}`, '');
  return { header, body: nl === -1 ? text.length : nl + 1 };
}

/**
 * The lines of a stored target, inflated as a stream (never the whole text at once: 90 MiB and its string at
 * 100k users); `line` gets each line's bytes and returns true to stop.
 */
async function forEachLine(bytes: Buffer, line: (buf: Buffer, start: number, end: number) => boolean): Promise<void> {
  const inflate = createGunzip({ chunkSize: 1 << 20 });
  inflate.end(bytes);
  let carry: Buffer | undefined; // a line cut by the chunk's end
  let first = true; // the header line not yet seen whole
  for await (const chunk of inflate as AsyncIterable<Buffer>) {
    let p = 0;
    if (carry !== undefined) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        carry = Buffer.concat([carry, chunk]);
        // Another format (the state of an earlier version is one line of JSON): not read through.
        if (first && carry.length > 1 << 20)
          throw new StateError('state_format', `a first line over 1 MiB: not ${TARGET_FORMAT}`, '');
        continue;
      }
      const joined = Buffer.concat([carry, chunk.subarray(0, nl)]);
      carry = undefined;
      first = false;
      if (line(joined, 0, joined.length)) return void inflate.destroy();
      p = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(10, p);
      if (nl === -1) break;
      first = false;
      if (line(chunk, p, nl)) return void inflate.destroy();
      p = nl + 1;
    }
    if (p < chunk.length) carry = Buffer.from(chunk.subarray(p));
  }
  if (carry !== undefined) line(carry, 0, carry.length);
}

const isDeletedLine = (buf: Buffer, start: number, end: number): boolean =>
  end - start === DELETED_LINE.length && buf.toString('latin1', start, end) === DELETED_LINE;

export async function unpackTarget(bytes: Buffer): Promise<TargetDeltaState> {
  let header: TargetHeader | undefined;
  const objects: EncObject[] = [];
  const deleted: EncObject[] = [];
  let into = objects;
  await forEachLine(bytes, (buf, start, end) => {
    if (header === undefined) header = targetHeader(buf.subarray(start, end)).header;
    else if (isDeletedLine(buf, start, end)) into = deleted;
    else into.push(JSON.parse(buf.toString('utf8', buf.indexOf(9, start) + 1, end)) as EncObject);
    return false;
  });
  if (header === undefined) throw new StateError('state_format', 'an empty target state', '');
  return decodeTarget({ ...header, objects, deleted });
}

/**
 * The stored target's live objects with these anchors (or, with `ids`, these object ids), and what else a plan
 * over them needs. The state is inflated as a stream and only its lines with one of the anchors or ids are
 * decoded (no 90 MiB text for 100k users, no JSON of every object). References between objects (group members)
 * are not resolved: users only.
 */
export async function targetObjectsByAnchor(
  bytes: Buffer,
  anchors: ReadonlySet<string>,
  ids: ReadonlySet<string> = new Set(),
): Promise<{ objects: TargetObject[]; adminRolesUnread?: string }> {
  const found: TargetObject[] = [];
  let header: TargetHeader | undefined;
  await forEachLine(bytes, (buf, start, end) => {
    if (header === undefined) {
      header = targetHeader(buf.subarray(start, end)).header;
      return false;
    }
    if (isDeletedLine(buf, start, end)) return true; // the soft-deleted objects follow: not asked for
    const tab = buf.indexOf(9, start);
    if (tab === -1 || tab >= end) return false;
    if (tab === start || !anchors.has(buf.toString('latin1', start, tab))) {
      // By id: the line's JSON begins `["<id>"`.
      if (ids.size === 0) return false;
      const close = buf.indexOf(34, tab + 3);
      if (close === -1 || close >= end || !ids.has(buf.toString('utf8', tab + 3, close))) return false;
    }
    found.push(decodeObject(JSON.parse(buf.toString('utf8', tab + 1, end)) as EncObject));
    return false;
  });
  if (header === undefined) throw new StateError('state_format', 'an empty target state', '');
  const h: TargetHeader = header;
  return { objects: found, ...(h.adminRolesUnread !== undefined ? { adminRolesUnread: h.adminRolesUnread } : {}) };
}

// ---- load and save ----

export interface Loaded<T> {
  value: T | undefined;
  /** The version read (absent: nothing stored yet), for the conditional write. */
  etag: string | undefined;
  /** Why what was stored can't be used (another format, damaged), when so. */
  unusable?: string;
}

export async function loadPart<T>(
  backend: StateBackend,
  name: string,
  decode: (b: Buffer) => Promise<T>,
): Promise<Loaded<T>> {
  const obj = await backend.read(name);
  if (obj === undefined) return { value: undefined, etag: undefined };
  try {
    return { value: await decode(obj.bytes), etag: obj.etag };
  } catch (err) {
    // Another version's format or a damaged blob: read everything, and write over it.
    return { value: undefined, etag: obj.etag, unusable: `the stored state is unreadable (${(err as Error).message})` };
  }
}

/**
 * Writes a part over the version that was read. Returns the size written, or undefined when another run wrote
 * it meanwhile (its state stands: each is a consistent observation, and the next run starts from it).
 */
export async function savePart(
  backend: StateBackend,
  name: string,
  bytes: Buffer,
  etag: string | undefined,
): Promise<number | undefined> {
  try {
    await backend.write(name, bytes, etag !== undefined ? { ifMatch: etag } : { ifNoneMatch: '*' });
  } catch (err) {
    if (err instanceof StateConflictError) return undefined;
    throw err;
  }
  return bytes.length;
}
