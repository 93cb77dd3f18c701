/**
 * Folds AD changes (./changes.ts) into the stored source snapshot, so that the result is what a full read would
 * give now (issue 15). Objects are tracked by objectGUID (a DN changes on rename and move; pipeline-and-delta-facts
 * §1.1): the snapshot's entries, and — stored beside them — every other object under the search bases (OUs,
 * containers, computers, objects the filter leaves out) and every object outside them that an entry names in a
 * DN-valued attribute (a group's member elsewhere, a manager).
 *
 *   rename / move     the object's new DN replaces the old one in every tracked DN under it (AD reports a renamed
 *                     or moved parent, never its children) and in every DN value that names it or its subtree
 *   moved in          an object new to the bases is read by GUID; a container, with its whole subtree
 *   moved out         what no longer lies under a base leaves the snapshot (kept as a reference while named)
 *   delete            the object leaves; its DN leaves every member/manager value (AD drops the links without
 *                     changing the referring object's uSNChanged — seen on Samba)
 *   restore           a reanimated tombstone is a new object to the bases: read by GUID; its back links (memberOf,
 *                     directReports) say which referring entries to read again (with the Recycle Bin, links return)
 *   edit              the object is read again by GUID (whole, ranged values included); DirSync's list of changed
 *                     attributes skips objects whose changes the read does not ask for
 *   member values     DirSync's incremental values (added/removed DNs) are applied to the stored list, so a
 *                     change in a large group costs its changes, not its size
 *
 * A change to a search base itself (renamed, moved, deleted) cannot be folded: the caller reads in full.
 */
import { isUnderDn, normalizeDn, splitDn } from '../../model/dn.js';
import type { AttrValue, DirectoryEntry } from '../../model/entry.js';
import type { AdChange, Listed } from './changes.js';

/** What a tracked object is: e = an entry of the snapshot, c = a computer under the bases, o = another object
 * under the bases, r = an object outside the bases that an entry names. */
export type TrackedKind = 'e' | 'c' | 'o' | 'r';
export type TrackedRecord = [guid: string, dn: string, kind: Exclude<TrackedKind, 'e'>];

/** DN-valued attributes AD keeps pointing at their object through renames and deletes (lower-cased). */
export const DN_VALUED: ReadonlySet<string> = new Set([
  'member',
  'manager',
  'managedby',
  'seealso',
  'secretary',
  'assistant',
  'altrecipient',
  'publicdelegates',
  'msexchcomanagedbylink',
]);

/** Back links: they change when another object changes, so no change to their own object tells it. */
export const BACK_LINKS: ReadonlySet<string> = new Set([
  'memberof',
  'directreports',
  'msds-memberoftransitive',
  'managedobjects',
  'publicdelegatesbl',
  'altrecipientbl',
]);

/** The directory operations a fold needs (the AD connector's, in production). */
export interface FoldIo {
  readByGuid(
    guid: string,
    links: boolean,
  ): Promise<
    { dn: string; classes: string[]; entry?: DirectoryEntry; memberOf: string[]; directReports: string[] } | undefined
  >;
  /** The entries a read finds under `dn`, and every object there (GUID, DN, classes). */
  readUnder(dn: string): Promise<{ entries: DirectoryEntry[]; objects: Listed[] }>;
  dnOfGuid(guid: string): Promise<string | undefined>;
  guidOfDn(dn: string): Promise<string | undefined>;
}

export interface FoldInput {
  entries: DirectoryEntry[];
  others: TrackedRecord[];
  bases: string[];
  /** Naming contexts the changes were read from: a reference outside them can't be followed. */
  partitions: string[];
  /** Every naming context the DC holds (the configuration NC's DN lies "under" the domain's, by its text). */
  namingContexts: string[];
  changes: AdChange[];
  /** Attributes whose change matters (requested ones and the filter's); DirSync changes to others are skipped. */
  relevant: ReadonlySet<string>;
  /** Whether DirSync's member values may be applied without reading the group (the filter names no member). */
  memberFoldable: boolean;
  /**
   * uSNChanged polling without visible tombstones: every object under the bases now. A tracked object under the
   * bases missing from it and not reported changed was deleted.
   */
  listed?: Listed[];
}

export type FoldResult =
  | { full: string }
  | {
      entries: DirectoryEntry[];
      others: TrackedRecord[];
      /** Computers under the bases (DNs). */
      computers: string[];
      /** Objects whose change was folded in. */
      folded: number;
      /** A reference the next read can't follow (then it reads in full), with why. */
      unfollowable?: string;
    };

interface Tracked {
  guid: string;
  dn: string;
  /** The DN as the stored member/manager values spell it (until the next flush of renames into the values). */
  valueDn: string;
  kind: TrackedKind;
  entry?: DirectoryEntry;
}

const LEAF_CLASSES = new Set(['user', 'group', 'contact', 'computer', 'foreignsecurityprincipal', 'inetorgperson']);
const isComputer = (classes: string[]) => classes.includes('computer');

/** Whether `dn` lies in one of the watched naming contexts (the most specific one holding it). */
function followable(dn: string, watched: string[], all: string[]): boolean {
  const holder = [...all, ...watched]
    .filter((nc) => isUnderDn(dn, nc))
    .sort((a, b) => splitDn(b).length - splitDn(a).length)[0];
  return holder !== undefined && watched.some((w) => normalizeDn(w) === normalizeDn(holder));
}

export function guidOfEntry(e: DirectoryEntry): string | undefined {
  const g = e.attrs['objectguid']?.[0];
  return g instanceof Uint8Array ? Buffer.from(g).toString('base64') : undefined;
}

/** `dn` with the `from` subtree's root renamed to `to` (the same DN when it does not lie under `from`). */
function moved(dn: string, from: string, fromLower: string, fromDepth: number, to: string): string {
  // Servers spell a parent's DN the same way in every DN under it: a suffix test (cheap: a million member values
  // per rename), confirmed by a DN comparison.
  if (dn.length < from.length) return dn;
  const tail = dn.length === from.length ? dn : dn.slice(dn.length - from.length);
  if (tail !== from && tail.toLowerCase() !== fromLower) return dn;
  if (dn.length > from.length && dn[dn.length - from.length - 1] !== ',') return dn;
  if (!isUnderDn(dn, from)) return dn;
  const rdns = splitDn(dn);
  return [...rdns.slice(0, rdns.length - fromDepth), to].join(',');
}

export async function foldChanges(io: FoldIo, input: FoldInput): Promise<FoldResult> {
  const tracked = new Map<string, Tracked>();
  const order: string[] = [];
  for (const e of input.entries) {
    const guid = guidOfEntry(e);
    if (guid === undefined) return { full: `the stored entry ${e.dn} has no objectGUID` };
    tracked.set(guid, { guid, dn: e.dn, valueDn: e.dn, kind: 'e', entry: e });
    order.push(guid);
  }
  for (const [guid, dn, kind] of input.others)
    if (!tracked.has(guid)) tracked.set(guid, { guid, dn, valueDn: dn, kind });
  const bases = input.bases;
  const baseKeys = new Set(bases.map(normalizeDn));
  const baseLowers = bases.map((b) => b.toLowerCase());
  // A suffix test first (the server spells a base the same way in every DN under it), the DN comparison else.
  const underBases = (dn: string) => {
    const lower = dn.toLowerCase();
    if (baseLowers.some((b) => lower === b || (lower.endsWith(b) && lower[lower.length - b.length - 1] === ',')))
      return true;
    return bases.some((b) => isUnderDn(dn, b));
  };
  let folded = 0;

  /**
   * Every tracked DN under `from` now lies under `to`. The DN values (a million members) follow at the next
   * flush, in one pass for all renames and deletes since the last.
   */
  const rewrite = (from: string, to: string): void => {
    const fromLower = from.toLowerCase();
    const depth = splitDn(from).length;
    for (const t of tracked.values()) {
      const dn = moved(t.dn, from, fromLower, depth, to);
      if (dn !== t.dn) {
        t.dn = dn;
        if (t.entry) t.entry = { ...t.entry, dn };
      }
    }
  };
  /** Value spellings (lower-cased) of deleted objects: AD dropped the links to them. */
  const drops = new Set<string>();
  /** Entries read in this fold: their values are the server's now, never rewritten. */
  const fresh = new Set<string>();
  const drop = (t: Tracked): void => {
    drops.add(t.valueDn.toLowerCase());
    tracked.delete(t.guid);
  };
  /** Brings every stored DN value up to date: renamed objects' new DNs, deleted objects' values gone. */
  const flush = (): void => {
    const renamed = new Map<string, string>();
    for (const t of tracked.values()) {
      if (t.valueDn !== t.dn) renamed.set(t.valueDn.toLowerCase(), t.dn);
      t.valueDn = t.dn;
    }
    if (renamed.size === 0 && drops.size === 0) return;
    for (const t of tracked.values()) {
      if (!t.entry || fresh.has(t.guid)) continue;
      let attrs: Record<string, AttrValue[]> | undefined;
      for (const [name, values] of Object.entries(t.entry.attrs)) {
        if (!DN_VALUED.has(name)) continue;
        let next: AttrValue[] | undefined;
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (typeof v !== 'string') continue;
          const lower = v.toLowerCase();
          const to = drops.has(lower) ? null : renamed.get(lower);
          if (to === undefined) continue;
          next ??= values.slice(0, i);
          if (to !== null) next.push(to);
          for (let k = i + 1; k < values.length; k++) {
            const w = values[k]!;
            if (typeof w !== 'string') {
              next.push(w);
              continue;
            }
            const wl = w.toLowerCase();
            const wt = drops.has(wl) ? null : renamed.get(wl);
            if (wt === undefined) next.push(w);
            else if (wt !== null) next.push(wt);
          }
          break;
        }
        if (next === undefined) continue;
        attrs ??= { ...t.entry.attrs };
        if (next.length > 0) attrs[name] = next;
        else delete attrs[name];
      }
      if (attrs) t.entry = { ...t.entry, attrs };
    }
    drops.clear();
  };

  // Last record per object (DirSync may replay), tombstones apart.
  const byGuid = new Map<string, AdChange>();
  for (const c of input.changes) byGuid.set(c.guid, c);
  const changes = [...byGuid.values()];

  // 0. A search base renamed, moved or deleted: the scope itself moved.
  for (const c of changes) {
    const t = tracked.get(c.guid);
    if (t && baseKeys.has(normalizeDn(t.dn)) && (c.deleted || normalizeDn(c.dn) !== normalizeDn(t.dn)))
      return { full: `the search base ${t.dn} was ${c.deleted ? 'deleted' : 'renamed or moved'}` };
  }

  // 1. Renames and moves of tracked objects: their subtrees and every DN value follow.
  for (const c of changes) {
    const t = tracked.get(c.guid);
    if (!t || c.deleted || normalizeDn(c.dn) === normalizeDn(t.dn)) continue;
    rewrite(t.dn, c.dn);
  }

  // 2. Deletes (tombstones seen, or — without visible tombstones — gone from the listing of the bases).
  const gone = new Set<string>();
  for (const c of changes) if (c.deleted && tracked.has(c.guid)) gone.add(c.guid);
  if (input.listed) {
    const present = new Set(input.listed.map((l) => l.guid));
    for (const t of [...tracked.values()]) {
      if (t.kind === 'r' || present.has(t.guid) || byGuid.has(t.guid)) continue;
      if (underBases(t.dn)) gone.add(t.guid);
      else {
        // Outside the bases now that a parent moved out (children are not reported): alive, or deleted since?
        const dn = await io.dnOfGuid(t.guid);
        if (dn === undefined) gone.add(t.guid);
        else if (normalizeDn(dn) !== normalizeDn(t.dn)) rewrite(t.dn, dn);
      }
    }
  }
  for (const guid of gone) {
    drop(tracked.get(guid)!);
    folded++;
  }
  flush();

  // 3. What to read again, and where DirSync's member values suffice.
  const reread = new Set<string>();
  const subtrees = new Set<string>();
  let reresolve = false;
  const hasRefs = () => [...tracked.values()].some((t) => t.kind === 'r');
  for (const c of changes) {
    if (c.deleted) continue;
    const t = tracked.get(c.guid);
    if (t) {
      const attrs = c.attributes;
      const renamed = attrs === undefined || attrs.includes('name') || attrs.includes('parentguid');
      if (t.kind === 'r') {
        // An object outside the bases that an entry names: only where it is matters (done above), unless it
        // came under a base, or was deleted and restored since (its links: read it for its back links).
        if (underBases(c.dn) || attrs === undefined || attrs.includes('isdeleted')) reread.add(c.guid);
        continue;
      }
      if (
        t.kind === 'e' &&
        attrs !== undefined &&
        c.member !== undefined &&
        input.memberFoldable &&
        t.entry!.unread?.['member'] === undefined &&
        attrs.every((a) => a === 'member' || a === 'objectguid' || a === 'instancetype') &&
        // A removed link names its member as it was called then: one renamed since is not in the list by that
        // name (seen on Samba), and the group is read instead.
        c.member.remove.every((v) =>
          (t.entry!.attrs['member'] ?? []).some((x) => typeof x === 'string' && x.toLowerCase() === v.toLowerCase()),
        )
      ) {
        const values = t.entry!.attrs['member'] ?? [];
        const removed = new Set(c.member.remove.map((v) => v.toLowerCase()));
        const kept = values.filter((v) => typeof v !== 'string' || !removed.has(v.toLowerCase()));
        const have = new Set(kept.map((v) => (typeof v === 'string' ? v.toLowerCase() : '')));
        const next = kept.concat(c.member.add.filter((v) => !have.has(v.toLowerCase())));
        const attrsNext = { ...t.entry!.attrs };
        if (next.length > 0) attrsNext['member'] = next;
        else delete attrsNext['member'];
        t.entry = { ...t.entry!, attrs: attrsNext };
        folded++;
        continue;
      }
      if (attrs !== undefined && !renamed && !attrs.some((a) => input.relevant.has(a))) continue;
      reread.add(c.guid);
    } else if (underBases(c.dn)) {
      reread.add(c.guid);
    } else if (c.attributes === undefined || c.attributes.includes('name') || c.attributes.includes('parentguid')) {
      // Outside the bases and untracked: it may be an ancestor of a named object, renamed or moved.
      if (!(c.classes && c.classes.some((x) => LEAF_CLASSES.has(x)))) reresolve = true;
    }
  }

  // 4. References outside the bases whose ancestors may have moved (or, without visible tombstones, that may
  //    have been deleted): where each is now.
  if ((reresolve || input.listed !== undefined) && hasRefs()) {
    for (const t of [...tracked.values()]) {
      if (t.kind !== 'r') continue;
      const dn = await io.dnOfGuid(t.guid);
      if (dn === undefined) {
        drop(t);
        folded++;
      } else if (normalizeDn(dn) !== normalizeDn(t.dn)) {
        rewrite(t.dn, dn);
        folded++;
        if (underBases(dn)) reread.add(t.guid);
      }
    }
  }

  flush();

  // 5. Read changed and new objects by GUID; a container new to the bases, with its subtree.
  const wasTracked = new Set(tracked.keys());
  const upsert = (guid: string, dn: string, classes: string[], entry: DirectoryEntry | undefined): void => {
    if (!underBases(dn)) {
      const t = tracked.get(guid);
      if (t) {
        t.kind = 'r'; // kept while an entry names it (pruned below)
        t.dn = dn;
        delete t.entry;
      }
      return;
    }
    const valueDn = tracked.get(guid)?.valueDn ?? dn;
    if (entry) {
      if (!tracked.has(guid) || tracked.get(guid)!.kind !== 'e') order.push(guid);
      tracked.set(guid, { guid, dn, valueDn, kind: 'e', entry });
      fresh.add(guid);
    } else tracked.set(guid, { guid, dn, valueDn, kind: isComputer(classes) ? 'c' : 'o' });
  };
  const backlinkChecks: { dn: string; memberOf: string[]; directReports: string[] }[] = [];
  for (const guid of reread) {
    const isNew = !wasTracked.has(guid) || tracked.get(guid)?.kind === 'r';
    // Deleted and restored since the last read (DirSync: isDeleted changed; uSNChanged: can't tell): the delete
    // dropped its links, a restore may bring them back — its back links say which.
    const record = byGuid.get(guid);
    const suspect =
      record !== undefined && (record.attributes === undefined || record.attributes.includes('isdeleted'));
    const got = await io.readByGuid(guid, isNew || suspect);
    folded++;
    if (got === undefined) {
      const t = tracked.get(guid);
      if (t) drop(t);
      continue;
    }
    const t = tracked.get(guid);
    if (t && normalizeDn(t.dn) !== normalizeDn(got.dn)) rewrite(t.dn, got.dn);
    upsert(guid, got.dn, got.classes, got.entry);
    if (isNew || suspect) backlinkChecks.push(got);
    if (isNew && underBases(got.dn) && !got.classes.some((x) => LEAF_CLASSES.has(x))) subtrees.add(got.dn);
  }
  for (const dn of subtrees) {
    const under = await io.readUnder(dn);
    const entryByDn = new Map(under.entries.map((e) => [normalizeDn(e.dn), e]));
    for (const o of under.objects) {
      const t = tracked.get(o.guid);
      if (t && normalizeDn(t.dn) !== normalizeDn(o.dn)) rewrite(t.dn, o.dn);
      upsert(o.guid, o.dn, o.classes, entryByDn.get(normalizeDn(o.dn)));
      folded++;
    }
  }

  flush();

  // 6. Back links of objects new to the bases or restored: an entry naming one (member, manager) that the
  //    server's back links (memberOf, directReports) don't list lost the link, and one they list that doesn't
  //    name it gained it; either is read again.
  const again = new Set<string>();
  if (backlinkChecks.length > 0) {
    const entryByDn = new Map<string, string>();
    const referrers = { member: new Map<string, Set<string>>(), manager: new Map<string, Set<string>>() };
    for (const t of tracked.values()) {
      if (t.kind !== 'e') continue;
      entryByDn.set(t.dn.toLowerCase(), t.guid);
      for (const attr of ['member', 'manager'] as const)
        for (const v of t.entry!.attrs[attr] ?? []) {
          if (typeof v !== 'string') continue;
          const k = v.toLowerCase();
          let set = referrers[attr].get(k);
          if (set === undefined) referrers[attr].set(k, (set = new Set()));
          set.add(t.guid);
        }
    }
    for (const b of backlinkChecks) {
      const self = b.dn.toLowerCase();
      for (const [attr, links] of [
        ['member', b.memberOf],
        ['manager', b.directReports],
      ] as const) {
        const server = new Set(links.map((d) => entryByDn.get(d.toLowerCase())).filter((g) => g !== undefined));
        const ours = referrers[attr].get(self) ?? new Set<string>();
        for (const g of ours) if (!server.has(g)) again.add(g);
        for (const g of server) if (!ours.has(g)) again.add(g);
      }
    }
  }
  for (const guid of again) {
    const got = await io.readByGuid(guid, false);
    folded++;
    if (got === undefined) {
      const t = tracked.get(guid);
      if (t) drop(t);
    } else upsert(guid, got.dn, got.classes, got.entry);
  }

  flush();

  // 7. Scope: what no longer lies under a base leaves; what an entry names outside the bases is tracked.
  for (const t of [...tracked.values()]) {
    if (t.kind !== 'r' && !underBases(t.dn)) {
      t.kind = 'r';
      delete t.entry;
    }
  }
  // (Keyed by the DN lower-cased: the server spells one object's DN one way everywhere; normalizing a million
  // member values would cost seconds.)
  const named = new Map<string, string>();
  for (const t of tracked.values()) {
    if (!t.entry) continue;
    for (const [name, values] of Object.entries(t.entry.attrs))
      if (DN_VALUED.has(name)) for (const v of values) if (typeof v === 'string') named.set(v.toLowerCase(), v);
  }
  const trackedDns = new Set([...tracked.values()].map((t) => t.dn.toLowerCase()));
  for (const t of [...tracked.values()]) if (t.kind === 'r' && !named.has(t.dn.toLowerCase())) tracked.delete(t.guid);
  let unfollowable: string | undefined;
  for (const [key, dn] of named) {
    if (trackedDns.has(key)) continue;
    const guid = followable(dn, input.partitions, input.namingContexts) ? await io.guidOfDn(dn) : undefined;
    if (guid === undefined || tracked.has(guid)) {
      unfollowable ??= `an entry names ${dn}, which the incremental read can't follow`;
      continue;
    }
    tracked.set(guid, { guid, dn, valueDn: dn, kind: 'r' });
  }

  const entries: DirectoryEntry[] = [];
  const seen = new Set<string>();
  for (const guid of order) {
    const t = tracked.get(guid);
    if (t?.kind !== 'e' || seen.has(guid)) continue;
    seen.add(guid);
    entries.push(t.entry!);
  }
  const others: TrackedRecord[] = [];
  const computers: string[] = [];
  for (const t of tracked.values()) {
    if (t.kind === 'e') continue;
    others.push([t.guid, t.dn, t.kind]);
    if (t.kind === 'c') computers.push(t.dn);
  }
  return { entries, others, computers, folded, ...(unfollowable ? { unfollowable } : {}) };
}

/** The tracked records of a full read: the objects under the bases that are not entries, and what entries name. */
export async function trackFullRead(
  io: Pick<FoldIo, 'guidOfDn'>,
  entries: DirectoryEntry[],
  listed: Listed[],
  partitions: string[],
  namingContexts: string[],
): Promise<{ others: TrackedRecord[]; unfollowable?: string }> {
  const entryGuids = new Set(entries.map(guidOfEntry));
  const known = new Set<string>(entries.map((e) => e.dn.toLowerCase()));
  const others: TrackedRecord[] = [];
  const guids = new Set<string>();
  for (const l of listed) {
    if (entryGuids.has(l.guid)) continue;
    others.push([l.guid, l.dn, isComputer(l.classes) ? 'c' : 'o']);
    known.add(l.dn.toLowerCase());
    guids.add(l.guid);
  }
  let unfollowable: string | undefined;
  const named = new Map<string, string>();
  for (const e of entries)
    for (const [name, values] of Object.entries(e.attrs))
      if (DN_VALUED.has(name)) for (const v of values) if (typeof v === 'string') named.set(v.toLowerCase(), v);
  for (const [key, dn] of named) {
    if (known.has(key)) continue;
    const guid = followable(dn, partitions, namingContexts) ? await io.guidOfDn(dn) : undefined;
    if (guid === undefined || guids.has(guid) || entryGuids.has(guid)) {
      unfollowable ??= `an entry names ${dn}, which the incremental read can't follow`;
      continue;
    }
    guids.add(guid);
    others.push([guid, dn, 'r']);
  }
  return { others, ...(unfollowable ? { unfollowable } : {}) };
}
