/**
 * uSNChanged polling for the AD source (pipeline-and-delta-facts §1, W3): whether anything the stored snapshot
 * depends on changed since the DC's `highestCommittedUSN` at the last full read. A change detector, not a fold:
 * with no relevant change the stored snapshot is the read; with any, the source is read in full.
 *
 * Relevant: an object under a search base changed (created, modified, renamed or moved in: its uSNChanged
 * moves), or an object that was under a base at the last read changed wherever it is now (moved out,
 * deleted: tombstones keep objectGUID, seen with Show Deleted), or — when the snapshot names objects outside
 * its bases (a member or manager DN there) — any object outside the bases (a rename there changes those DNs
 * without touching the referring object). Children of a renamed parent are not reported by AD, but the
 * parent is, and it lies under a base (or was). The watermark is valid only on the DC that issued it: another
 * DC (`dsServiceName`) or a restored one (`invocationId`) means a full read.
 */
import { Control } from 'ldapts';
import type { Client } from 'ldapts';
import { SourceError } from '../../errors.js';
import { isUnderDn } from '../../model/dn.js';
import type { SourceSnapshot } from '../../model/entry.js';

/** LDAP_SERVER_SHOW_DELETED_OID: tombstones are returned too. */
const SHOW_DELETED = '1.2.840.113556.1.4.417';

export interface AdWatermark {
  /** The DC's NTDS Settings DN (rootDSE dsServiceName). */
  dc: string;
  /** Its invocationId (base64): changes when the DC's database is restored. */
  invocationId: string;
  /** rootDSE highestCommittedUSN when the read began. */
  usn: string;
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

export async function readWatermark(client: Client): Promise<AdWatermark> {
  const { searchEntries } = await client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['highestCommittedUSN', 'dsServiceName'],
  });
  const root = searchEntries[0] ?? { dn: '' };
  const get = (k: string): string | undefined => {
    const key = Object.keys(root).find((x) => x.toLowerCase() === k.toLowerCase());
    const v = key === undefined ? undefined : first(root[key]);
    return v === undefined ? undefined : String(v);
  };
  const usn = get('highestCommittedUSN');
  const dc = get('dsServiceName');
  if (usn === undefined || dc === undefined)
    throw new SourceError(
      'ldap_no_watermark',
      "the rootDSE names no highestCommittedUSN / dsServiceName (the AD source's incremental read needs them)",
    );
  const { searchEntries: ntds } = await client.search(dc, {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['invocationId'],
    explicitBufferAttributes: ['invocationId'],
  });
  const id = first(ntds[0]?.['invocationId']);
  return { dc, invocationId: Buffer.isBuffer(id) ? id.toString('base64') : String(id ?? ''), usn };
}

/** objectGUIDs (base64) of every object under the bases: what may later move out of them. */
export async function guidsUnder(client: Client, bases: string[], pageSize: number): Promise<string[]> {
  const out = new Set<string>();
  for (const base of bases) {
    for await (const page of client.searchPaginated(base, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize },
    })) {
      for (const e of page.searchEntries) {
        const g = first(e['objectGUID']);
        if (Buffer.isBuffer(g)) out.add(g.toString('base64'));
      }
    }
  }
  return [...out].sort();
}

/** Whether the snapshot holds a DN-valued reference (member, manager, …) to an object outside its bases. */
export function refersOutside(snapshot: SourceSnapshot, bases: string[]): boolean {
  const dns = new Set(snapshot.entries.map((e) => e.dn));
  for (const e of snapshot.entries) {
    for (const [name, values] of Object.entries(e.attrs)) {
      if (name !== 'member' && name !== 'manager' && name !== 'memberof') continue;
      for (const v of values)
        if (typeof v === 'string' && !dns.has(v) && !bases.some((b) => isUnderDn(v, b))) return true;
    }
  }
  return false;
}

/**
 * The first relevant change since `since.usn`, as a short description, or undefined when there is none.
 * `partitions` are the naming contexts the bases lie in (changes are searched there, not only under the bases).
 */
export async function relevantChange(
  client: Client,
  opts: {
    partitions: string[];
    bases: string[];
    since: AdWatermark;
    known: ReadonlySet<string>;
    refersOutside: boolean;
    pageSize: number;
  },
): Promise<string | undefined> {
  const from = (BigInt(opts.since.usn) + 1n).toString();
  for (const partition of opts.partitions) {
    for await (const page of client.searchPaginated(
      partition,
      {
        scope: 'sub',
        filter: `(uSNChanged>=${from})`,
        attributes: ['objectGUID', 'objectClass'],
        explicitBufferAttributes: ['objectGUID'],
        paged: { pageSize: opts.pageSize },
      },
      new Control(SHOW_DELETED, { critical: true }),
    )) {
      for (const e of page.searchEntries) {
        if (opts.bases.some((b) => isUnderDn(e.dn, b))) return `${e.dn} changed`;
        const g = first(e['objectGUID']);
        if (Buffer.isBuffer(g) && opts.known.has(g.toString('base64')))
          return `an object read last time changed (${e.dn})`;
        if (opts.refersOutside) {
          const classes = ([] as unknown[]).concat(e['objectClass'] ?? []).map((c) => String(c).toLowerCase());
          if (
            classes.some((c) => ['user', 'group', 'contact', 'computer', 'organizationalunit', 'container'].includes(c))
          )
            return `${e.dn} changed outside the search bases, and the last read refers to objects there`;
        }
      }
    }
  }
  return undefined;
}
