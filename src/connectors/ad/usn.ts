/**
 * The DC's watermark for the AD source's incremental read (pipeline-and-delta-facts §1.2, W3): rootDSE
 * highestCommittedUSN, read before a read begins (uSNChanged polling starts above it next time), and the DC's
 * identity — its NTDS Settings DN (dsServiceName) and invocationId. The watermark and DirSync cookies are valid
 * only on the DC that issued them: another DC, or the same one restored from a backup (a new invocationId),
 * means a full read (../../sync/ad-incremental.ts).
 */
import type { Client } from 'ldapts';
import { SourceError } from '../../errors.js';

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
