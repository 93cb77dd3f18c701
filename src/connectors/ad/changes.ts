/**
 * What changed in AD since the last read (pipeline-and-delta-facts §1): through the DirSync control when the bind
 * account holds "Replicating Directory Changes" on the naming context, else by uSNChanged polling. Both yield the
 * same records — one per changed object, keyed by objectGUID — which ./fold.ts folds into the stored snapshot.
 *
 * DirSync (§1.1, §1.3): base = the naming-context root, scope subtree, no OBJECT_SECURITY flag (so the right is
 * checked: a refusal, LDAP 50, means uSNChanged polling), INCREMENTAL_VALUES (member changes come as
 * `member;range=1-1` added / `member;range=0-0` removed), Show Deleted alongside (tombstones come back with
 * isDeleted). No attribute list: the list would act as a filter, and ldapts fills every requested name the
 * server did not send with [] — "unchanged" and "cleared" would look alike (§1.4). Samba answers in one response
 * (flag 0); the loop follows the flag as AD's paging requires.
 *
 * uSNChanged (§1.2): `(uSNChanged>=last+1)` over each naming context, paged, with Show Deleted; the watermark is
 * the DC's highestCommittedUSN read before the previous read. Whole objects, no attribute detail.
 */
import { Control, InsufficientAccessError, NoSuchObjectError, ResultCodeError } from 'ldapts';
import type { Client, Entry } from 'ldapts';
import { DIRSYNC_INCREMENTAL_VALUES, DirSyncControl, SHOW_DELETED_OID } from './dirsync-control.js';

/** One changed object. */
export interface AdChange {
  /** objectGUID, base64. */
  guid: string;
  /** Its DN now (a tombstone's lies under Deleted Objects). */
  dn: string;
  deleted: boolean;
  /** Lower-cased names of the attributes that changed (DirSync), or undefined (uSNChanged: not known). */
  attributes?: string[];
  /** objectClass values, lower-cased, when the record carries them. */
  classes?: string[];
  /** DirSync incremental values of `member`: added and removed DNs. */
  member?: { add: string[]; remove: string[] };
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const RANGE = /^([^;]+);range=(\d+)-(\d+|\*)$/i;

/** The flags adsync sends: incremental values; no OBJECT_SECURITY (the right is required and checked). */
export const DIRSYNC_FLAGS = DIRSYNC_INCREMENTAL_VALUES;

function toChange(e: Entry, detail: boolean): AdChange | undefined {
  const g = first(e['objectGUID']);
  if (!Buffer.isBuffer(g)) return undefined;
  const key = (name: string) => Object.keys(e).find((k) => k.toLowerCase() === name);
  const deletedKey = key('isdeleted');
  const deleted = deletedKey !== undefined && String(first(e[deletedKey]) ?? '').toUpperCase() === 'TRUE';
  const classesKey = key('objectclass');
  const out: AdChange = { guid: g.toString('base64'), dn: e.dn, deleted };
  if (classesKey !== undefined && list(e[classesKey]).length > 0)
    out.classes = list(e[classesKey]).map((c) => String(c).toLowerCase());
  if (detail) {
    const attributes = new Set<string>();
    for (const k of Object.keys(e)) {
      if (k === 'dn') continue;
      const m = RANGE.exec(k);
      const name = (m ? m[1]! : k).toLowerCase();
      if (m && name === 'member') {
        out.member ??= { add: [], remove: [] };
        // Added links come as range 1-1, removed ones as range 0-0 (Samba's dirsync.c, AD's incremental values).
        (m[2] === '1' ? out.member.add : out.member.remove).push(...list(e[k]).map(String));
      }
      attributes.add(name);
    }
    out.attributes = [...attributes].sort();
  }
  return out;
}

export type DirSyncOutcome =
  | { ok: true; changes: AdChange[]; cookie: Buffer }
  /** The account lacks the right (LDAP 50): uSNChanged polling instead. */
  | { ok: false; kind: 'denied'; message: string }
  /** The cookie (or the control) was refused: a full read. */
  | { ok: false; kind: 'refused'; message: string };

/**
 * Changes in one naming context since `cookie` (empty: a first call). `probe` sends a filter that matches
 * nothing: the answer is a cookie for "now" and no entries (how a full read takes its starting point cheaply).
 */
export async function readDirSync(
  client: Client,
  partition: string,
  cookie: Buffer,
  probe = false,
): Promise<DirSyncOutcome> {
  const changes: AdChange[] = [];
  let current = cookie;
  try {
    for (let round = 0; round < 10_000; round++) {
      const control = new DirSyncControl(DIRSYNC_FLAGS, current);
      const { searchEntries } = await client.search(
        partition,
        {
          scope: 'sub',
          // A probe: objectGUID is never a single zero byte.
          filter: probe ? '(objectGUID=\\00)' : '(objectClass=*)',
          ...(probe ? { attributes: ['objectGUID'] } : {}),
          explicitBufferAttributes: ['objectGUID', 'parentGUID'],
        },
        [control, new Control(SHOW_DELETED_OID, { critical: true })],
      );
      for (const e of searchEntries) {
        const c = toChange(e, true);
        if (c !== undefined) changes.push(c);
      }
      if (!control.answered) return { ok: false, kind: 'refused', message: 'the DirSync response carried no control' };
      current = control.cookie;
      if (!control.moreData) return { ok: true, changes, cookie: current };
    }
    return { ok: false, kind: 'refused', message: 'DirSync kept announcing more data' };
  } catch (err) {
    if (err instanceof InsufficientAccessError)
      return { ok: false, kind: 'denied', message: `LDAP 50 insufficientAccessRights: ${oneLine(err)}` };
    if (err instanceof ResultCodeError)
      return {
        ok: false,
        kind: 'refused',
        message: `LDAP ${err.code} ${err.constructor.name.replace(/Error$/, '')}: ${oneLine(err)}`,
      };
    throw err;
  }
}

const oneLine = (err: Error): string => err.message.split('\n')[0]!.slice(0, 160);

/** Objects with uSNChanged above `usn` in one naming context (tombstones included where the account sees them). */
export async function readUsnChanges(
  client: Client,
  partition: string,
  usn: string,
  pageSize: number,
): Promise<AdChange[]> {
  const from = (BigInt(usn) + 1n).toString();
  const out: AdChange[] = [];
  for await (const page of client.searchPaginated(
    partition,
    {
      scope: 'sub',
      filter: `(uSNChanged>=${from})`,
      attributes: ['objectGUID', 'objectClass', 'isDeleted'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize },
    },
    new Control(SHOW_DELETED_OID, { critical: true }),
  )) {
    for (const e of page.searchEntries) {
      const c = toChange(e, false);
      if (c !== undefined) out.push(c);
    }
  }
  return out;
}

/** One object under the bases, as tracked between reads. */
export interface Listed {
  guid: string;
  dn: string;
  classes: string[];
}

/** Every object under the bases (objectGUID, DN and classes only): one light paged pass. */
export async function listUnder(client: Client, bases: string[], pageSize: number): Promise<Listed[]> {
  const out = new Map<string, Listed>();
  for (const base of bases) {
    for await (const page of client.searchPaginated(base, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['objectGUID', 'objectClass'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize },
    })) {
      for (const e of page.searchEntries) {
        const g = first(e['objectGUID']);
        if (!Buffer.isBuffer(g)) continue;
        const guid = g.toString('base64');
        out.set(guid, { guid, dn: e.dn, classes: list(e['objectClass']).map((c) => String(c).toLowerCase()) });
      }
    }
  }
  return [...out.values()];
}

/** The objectGUID (base64) of the object at `dn`, or undefined when there is none. */
export async function guidOfDn(client: Client, dn: string): Promise<string | undefined> {
  try {
    const { searchEntries } = await client.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
    });
    const g = first(searchEntries[0]?.['objectGUID']);
    return Buffer.isBuffer(g) ? g.toString('base64') : undefined;
  } catch (err) {
    if (err instanceof NoSuchObjectError) return undefined;
    throw err;
  }
}

/** The DN of the live object with this objectGUID (base64), or undefined when there is none. */
export async function dnOfGuid(client: Client, guid: string): Promise<string | undefined> {
  try {
    const { searchEntries } = await client.search(`<GUID=${Buffer.from(guid, 'base64').toString('hex')}>`, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['1.1'],
    });
    return searchEntries[0]?.dn;
  } catch (err) {
    if (err instanceof NoSuchObjectError) return undefined;
    throw err;
  }
}

/**
 * Whether the account sees tombstones: one child of the Deleted Objects container (well-known GUID) with Show
 * Deleted. False also when there is none yet: then deletions are found by listing the bases (the fallback).
 */
export async function seesTombstones(client: Client, partition: string): Promise<boolean> {
  try {
    const { searchEntries } = await client.search(
      `<WKGUID=18E2EA80684F11D2B9AA00C04F79F805,${partition}>`,
      { scope: 'one', filter: '(isDeleted=TRUE)', attributes: ['1.1'], sizeLimit: 1 },
      new Control(SHOW_DELETED_OID, { critical: true }),
    );
    return searchEntries.length > 0;
  } catch (err) {
    if (err instanceof ResultCodeError) return err.code === 4; // sizeLimitExceeded: there are
    throw err;
  }
}

/**
 * The forest's tombstone lifetime in days (`tombstoneLifetime` on CN=Directory Service; 60 when unset, as
 * MS-ADTS says — Samba assumes 180, the smaller is the safe one). Undefined when it can't be read.
 */
export async function tombstoneLifetimeDays(client: Client, configNc: string): Promise<number> {
  try {
    const { searchEntries } = await client.search(`CN=Directory Service,CN=Windows NT,CN=Services,${configNc}`, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['tombstoneLifetime'],
    });
    const v = Number(first(searchEntries[0]?.['tombstoneLifetime']));
    return Number.isFinite(v) && v >= 2 ? v : 60;
  } catch (err) {
    if (err instanceof ResultCodeError) return 60;
    throw err;
  }
}
