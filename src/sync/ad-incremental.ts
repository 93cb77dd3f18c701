/**
 * The AD source's incremental read (issue 15): the stored snapshot plus the changes since the last read, folded
 * in by objectGUID (../connectors/ad/fold.ts), so the result equals a full read of the same moment.
 *
 *   DirSync     where the bind account holds "Replicating Directory Changes" on the naming context: one cookie
 *               per naming context, kept in the state; member changes come as incremental values.
 *   uSNChanged  otherwise (DirSync refused with LDAP 50): objects with uSNChanged above the DC's
 *               highestCommittedUSN read before the last read, tombstones through Show Deleted; when the account
 *               sees no tombstones, deletions are found by listing the objects under the bases (GUIDs only).
 *
 * Full read when: no state, `--full`, the scope changed, the state is from an older format, another DC or the
 * same DC restored (invocationId), the last read is older than the tombstone lifetime allows, the DC refused
 * the cookie, DirSync was withdrawn, a search base itself moved, the read asks for a back link (memberOf …),
 * or the last read named an object it can't follow. The reason goes into the plan.
 */
import { createHash } from 'node:crypto';
import type { PartRead } from '../connectors/entra/index.js';
import type { AdSource } from '../connectors/ad/index.js';
import {
  dnOfGuid,
  guidOfDn,
  listUnder,
  readDirSync,
  readUsnChanges,
  seesTombstones,
  tombstoneLifetimeDays,
  type AdChange,
  type Listed,
} from '../connectors/ad/changes.js';
import { BACK_LINKS, foldChanges, trackFullRead, type FoldIo } from '../connectors/ad/fold.js';
import { readWatermark } from '../connectors/ad/usn.js';
import { mapLdapError, readRootDse } from '../connectors/ad/index.js';
import { normalizeDn } from '../model/dn.js';
import type { SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import type { AdSourceState, AdStateHeader, SourceState } from './state-snapshots.js';

const DAY = 24 * 3600 * 1000;

const digest = (o: unknown): string => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 32);

/** Attribute names an LDAP filter tests (lower-cased). */
function filterAttributes(filter: string | undefined): string[] {
  if (filter === undefined) return [];
  return [...filter.matchAll(/\(\s*!?\s*([A-Za-z][A-Za-z0-9-]*)(?:;[^=~<>:]*)?\s*(?::[^=]*)?[~<>]?=/g)].map((m) =>
    m[1]!.toLowerCase(),
  );
}

/** What an AD read reads and from where, as resolved (the state's `scope`). */
export function adScope(url: string, bases: readonly string[], request: SourceReadRequest): string {
  // A base DN from the environment counts by its value; the URL carries no secret (validate refuses credentials).
  return digest({ kind: 'ldap', url, bases, request });
}

/** Why a read last done `at` can't be followed now (older than the tombstone lifetime less a day), if so. */
function tooOld(at: string, now: Date, lifetime: number): string | undefined {
  const age = now.getTime() - Date.parse(at);
  return age < (lifetime - 1) * DAY
    ? undefined
    : `the last read is ${Math.floor(age / DAY)} days old: deletions older than the tombstone lifetime (${lifetime} days, less a day) may be gone`;
}

/**
 * Where an AD state's next read starts, for the stored plan's key (plan-memo.ts): the DC and its invocationId,
 * and the DirSync cookies or the uSNChanged watermark. A plan made from this state is shown again only while
 * adUnchangedSince says the DC has nothing new past it.
 */
export function adPosition(ad: Omit<AdSourceState, 'others'>): string {
  const { dc, invocationId, usn } = ad.watermark;
  return digest(
    ad.mode === 'dirsync'
      ? { mode: ad.mode, dc, invocationId, cookies: ad.cookies ?? {} }
      : { mode: ad.mode, dc, invocationId, usn, tombstones: ad.tombstones === true },
  );
}

/**
 * Whether the DC has nothing new since the state with this header was read, asked cheaply and without the
 * snapshot: the same DC (dsServiceName) and invocationId, the same read scope as resolved now, no full-read
 * trigger (a back link, an unfollowable value, the tombstone lifetime), and then — DirSync: one round per naming
 * context with the stored cookies returns no change; uSNChanged: the DC's highestCommittedUSN is the stored
 * watermark (any write to the DC moves it, a delete the account can't see included). Undefined when unchanged,
 * else why not (the plan is then made as usual, and its read says how it went).
 */
export async function adUnchangedSince(
  ad: AdSource,
  request: SourceReadRequest,
  header: AdStateHeader,
  now: Date,
): Promise<string | undefined> {
  const { client, settings } = await ad.connect();
  try {
    const stored = header.ad;
    if (stored.v !== 2) return 'the stored AD state predates change tracking';
    if (stored.unfollowable !== undefined) return stored.unfollowable;
    const backLink = request.attributes.find((a) => BACK_LINKS.has(a.toLowerCase()));
    if (backLink !== undefined) return `the read asks for ${backLink}`;
    const watermark = await readWatermark(client);
    if (watermark.dc !== stored.watermark.dc) return `another domain controller (${watermark.dc})`;
    if (watermark.invocationId !== stored.watermark.invocationId) return "the domain controller's invocationId changed";
    const { bases, namingContexts } = await ad.resolveBases(client, settings, request);
    if (adScope(settings.url, bases, request) !== header.scope) return 'the read scope changed';
    const root = await readRootDse(client);
    const lifetime = root.configurationNamingContext
      ? await tombstoneLifetimeDays(client, root.configurationNamingContext)
      : 60;
    const old = tooOld(stored.at, now, lifetime);
    if (old !== undefined) return old;
    if (stored.mode === 'usn')
      return watermark.usn === stored.watermark.usn ? undefined : `highestCommittedUSN is ${watermark.usn}`;
    for (const nc of namingContexts) {
      const cookie = stored.cookies?.[normalizeDn(nc.dn)];
      if (cookie === undefined) return `no DirSync cookie is stored for ${nc.dn}`;
      const got = await readDirSync(client, nc.dn, Buffer.from(cookie, 'base64'));
      if (!got.ok) return got.message;
      if (got.changes.length > 0) return `DirSync: ${got.changes.length} changes in ${nc.dn}`;
    }
    return undefined;
  } catch (err) {
    throw mapLdapError(err, settings);
  }
}

export interface AdIncrementalResult {
  snapshot: SourceSnapshot;
  read: PartRead;
  /** The state to store (undefined: what is stored stays valid). */
  state?: SourceState;
  /** uSNChanged, nothing new: the stored state with this header (where the next read starts) instead. */
  advanced?: Omit<AdSourceState, 'others'>;
}

export async function readAdIncremental(
  ad: AdSource,
  request: SourceReadRequest,
  part: string,
  prior: SourceState | undefined,
  forced: string | undefined,
  now: Date,
): Promise<AdIncrementalResult> {
  const { settings } = await ad.connect();
  try {
    return await readAd(ad, request, part, prior, forced, now);
  } catch (err) {
    // One clear SourceError for anything the directory or the network threw (AdsyncErrors pass through).
    throw mapLdapError(err, settings);
  }
}

async function readAd(
  ad: AdSource,
  request: SourceReadRequest,
  part: string,
  prior: SourceState | undefined,
  /** Why the read must be full before looking (no state, --full, unreadable), if so. */
  forced: string | undefined,
  now: Date,
): Promise<AdIncrementalResult> {
  const { client, settings } = await ad.connect();
  // The watermark first: changes made during this read are seen again next time (a replay folds to the same).
  const watermark = await readWatermark(client);
  const { bases, namingContexts } = await ad.resolveBases(client, settings, request);
  const partitions = namingContexts.map((nc) => nc.dn);
  // What the source reads and from where, as resolved (a base DN from the environment counts by its value; the
  // URL carries no secret: credentials in it are refused by validate).
  const scope = adScope(settings.url, bases, request);
  const root = await readRootDse(client);
  const lifetime = root.configurationNamingContext
    ? await tombstoneLifetimeDays(client, root.configurationNamingContext)
    : 60;
  const backLink = request.attributes.find((a) => BACK_LINKS.has(a.toLowerCase()));
  const stored: AdSourceState | undefined = prior?.ad;

  let why = forced;
  if (why === undefined) {
    if (prior === undefined) why = 'no state';
    else if (prior.scope !== scope || stored === undefined || prior.snapshot === undefined)
      why = 'the read scope changed (search bases, filter or attributes)';
    else if (stored.v !== 2) why = 'the stored AD state predates change tracking (objectGUIDs): read once in full';
    else if (stored.watermark.dc !== watermark.dc) why = `another domain controller (${watermark.dc})`;
    else if (stored.watermark.invocationId !== watermark.invocationId)
      why = "the domain controller's invocationId changed (restored from a backup)";
    else if (backLink !== undefined)
      why = `the read asks for ${backLink}, a back link that changes without its object changing`;
    else if (stored.unfollowable !== undefined) why = stored.unfollowable;
    else why = tooOld(stored.at, now, lifetime);
  }

  const priorSnapshot = prior?.snapshot;
  if (why === undefined && priorSnapshot !== undefined && stored !== undefined) {
    const changes: AdChange[] = [];
    const cookies: Record<string, string> = {};
    let refused: string | undefined;
    let listed: Listed[] | undefined;
    let tombstones = stored.tombstones;
    if (stored.mode === 'dirsync') {
      for (const p of partitions) {
        const cookie = stored.cookies?.[normalizeDn(p)];
        if (cookie === undefined) {
          refused = `no DirSync cookie is stored for ${p}`;
          break;
        }
        const got = await readDirSync(client, p, Buffer.from(cookie, 'base64'));
        if (!got.ok) {
          refused =
            got.kind === 'denied'
              ? `DirSync is no longer granted to ${settings.bindDn} (${got.message})`
              : `the domain controller refused the DirSync cookie (${got.message})`;
          break;
        }
        changes.push(...got.changes);
        cookies[normalizeDn(p)] = got.cookie.toString('base64');
      }
    } else {
      for (const p of partitions)
        changes.push(...(await readUsnChanges(client, p, stored.watermark.usn, settings.pageSize)));
      if (!tombstones) tombstones = await seesTombstones(client, partitions[0] ?? bases[0]!);
      if (!tombstones) listed = await listUnder(client, bases, settings.pageSize);
    }
    if (refused !== undefined) why = refused;
    else {
      const io = foldIo(ad, request, client, settings.pageSize);
      const relevant = new Set([
        ...request.attributes.map((a) => a.toLowerCase()),
        ...filterAttributes(request.filter),
        'objectclass',
        'ms-ds-consistencyguid',
        'isdeleted',
        'name',
        'parentguid',
      ]);
      const out = await foldChanges(io, {
        entries: priorSnapshot.entries,
        others: stored.others,
        bases,
        partitions,
        namingContexts: root.namingContexts,
        changes,
        relevant,
        memberFoldable: !/member/i.test(request.filter ?? ''),
        ...(listed ? { listed } : {}),
      });
      if ('full' in out) why = out.full;
      else {
        const how =
          stored.mode === 'dirsync'
            ? 'DirSync'
            : `uSNChanged since USN ${stored.watermark.usn}${listed ? ', deletions by listing the bases (no tombstones visible)' : ''}`;
        const read: PartRead = { part, mode: 'incremental', reason: how, changes: out.folded };
        if (changes.length === 0 && out.folded === 0) {
          // uSNChanged: nothing new up to the watermark read first (a write the account can't see, another
          // naming context's): the next read starts there, so the stored plan's check, which compares the DC's
          // highestCommittedUSN with it, can tell "unchanged" again. Only the header is rewritten.
          if (stored.mode !== 'usn' || watermark.usn === stored.watermark.usn) return { snapshot: priorSnapshot, read };
          const { others: _o, ...head } = stored;
          return {
            snapshot: priorSnapshot,
            read,
            advanced: { ...head, watermark, tombstones: tombstones === true, at: now.toISOString() },
          };
        }
        const snapshot: SourceSnapshot = {
          source: priorSnapshot.source,
          namingContexts,
          entries: out.entries,
          ...(ad.listsComputers(request) && out.computers.length > 0 ? { computers: out.computers } : {}),
        };
        const ad2: AdSourceState = {
          v: 2,
          watermark,
          mode: stored.mode,
          ...(stored.mode === 'dirsync' ? { cookies } : { tombstones: tombstones === true }),
          others: out.others,
          at: now.toISOString(),
          ...(out.unfollowable ? { unfollowable: out.unfollowable } : {}),
        };
        return { snapshot, read, state: { scope, ad: ad2, snapshot } };
      }
    }
  }

  // A full read, with the starting point taken first: DirSync cookies where granted, else the watermark.
  const cookies: Record<string, string> = {};
  let mode: 'dirsync' | 'usn' = 'dirsync';
  for (const p of partitions) {
    const got = await readDirSync(client, p, Buffer.alloc(0), true);
    if (!got.ok) {
      mode = 'usn';
      break;
    }
    cookies[normalizeDn(p)] = got.cookie.toString('base64');
  }
  const tombstones = mode === 'usn' ? await seesTombstones(client, partitions[0] ?? bases[0]!) : undefined;
  const snapshot = await ad.read(request);
  const listed = await listUnder(client, bases, settings.pageSize);
  const tracked = await trackFullRead(
    foldIo(ad, request, client, settings.pageSize),
    snapshot.entries,
    listed,
    partitions,
    root.namingContexts,
  );
  const state: AdSourceState = {
    v: 2,
    watermark,
    mode,
    ...(mode === 'dirsync' ? { cookies } : { tombstones: tombstones === true }),
    others: tracked.others,
    at: now.toISOString(),
    ...(tracked.unfollowable ? { unfollowable: tracked.unfollowable } : {}),
  };
  return { snapshot, read: { part, mode: 'full', reason: why ?? 'no state' }, state: { scope, ad: state, snapshot } };
}

function foldIo(
  ad: AdSource,
  request: SourceReadRequest,
  client: Parameters<typeof listUnder>[0],
  pageSize: number,
): FoldIo {
  return {
    readByGuid: (guid, links) => ad.readByGuid(request, Buffer.from(guid, 'base64'), links),
    readUnder: async (dn) => {
      const { entries } = await ad.readUnder(request, [dn]);
      return { entries, objects: await listUnder(client, [dn], pageSize) };
    },
    dnOfGuid: (guid) => dnOfGuid(client, guid),
    guidOfDn: (dn) => guidOfDn(client, dn),
  };
}
