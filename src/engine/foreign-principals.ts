/**
 * Group members of another forest. A domain names a member from a trusted forest by a foreign security principal:
 * an object of class foreignSecurityPrincipal whose RDN is the member's SID, in the domain's well-known
 * CN=ForeignSecurityPrincipals container (MS-ADTS 6.1.1.4.10). Entra Connect joins it to the metaverse object
 * whose objectSidString is that cn (rule "In from AD - ForeignSecurityPrincipal Join User"), so a group of the
 * resource forest gets the account of the account forest as its member. adsync does the same across its sources:
 * the member is the desired object of another source whose objectSid is the SID the member DN names.
 *
 * Pure: plain data in, plain data out. The SIDs of the sources' entries are indexed once, on the first foreign
 * member met (most directories have none).
 */
import type { SourceSnapshot } from '../model/entry.js';
import { parentDn } from '../model/dn.js';
import { sidToBytes, sidToString } from '../model/sid.js';

const CONTAINER = 'cn=foreignsecurityprincipals,';

/**
 * The SID a foreign security principal's normalized DN names (`cn=s-1-5-21-…,cn=foreignsecurityprincipals,dc=…`),
 * in its canonical spelling (`S-1-5-21-…`, as DesiredObject.sid has it); undefined for any other DN, and for a
 * principal whose name is not a SID (a conflict-mangled `S-1-5-11\0ACNF:…`).
 */
export function foreignPrincipalSid(ndn: string): string | undefined {
  const parent = parentDn(ndn);
  if (!parent.startsWith(CONTAINER)) return undefined;
  const rdn = ndn.slice(0, ndn.length - parent.length - 1);
  if (!rdn.startsWith('cn=')) return undefined;
  const bytes = sidToBytes(rdn.slice(3));
  return bytes && sidToString(bytes);
}

/** An entry of a source read holding a SID as its objectSid. */
export interface SidHolder {
  source: string;
  dn: string;
}

/**
 * Resolves foreign members: `resolve` gives the object a holder of the SID is (the caller's lookup), a reason
 * the member is left out, or undefined when the DN names no foreign security principal.
 */
export class ForeignPrincipals<T> {
  private index: Map<string, SidHolder[]> | undefined;

  constructor(
    private readonly snapshots: readonly SourceSnapshot[],
    /** The synchronized object a holder is, or why it is not one (the reason a DN member would get). */
    private readonly lookup: (holder: SidHolder) => T | string,
  ) {}

  resolve(ndn: string, groupSource: string): T | string | undefined {
    const sid = foreignPrincipalSid(ndn);
    if (sid === undefined) return undefined;
    const all = this.holdersOf(sid);
    const holders = all.filter((h) => h.source !== groupSource);
    if (holders.length === 1) {
      const found = this.lookup(holders[0]!);
      return typeof found === 'string'
        ? `a foreign security principal for an object of source ${holders[0]!.source} that is not synchronized: ${found}`
        : found;
    }
    if (holders.length > 1)
      return `a foreign security principal whose SID more than one object of the other sources holds (${[...new Set(holders.map((h) => h.source))].sort().join(', ')}): it names none of them`;
    if (all.length > 0)
      return "a foreign security principal whose SID belongs to an object of the group's own source (it stands for an account of another forest)";
    if (!sid.startsWith('S-1-5-21-'))
      return 'a foreign security principal for a well-known SID (a built-in identity, not an account of any forest)';
    return "a foreign security principal whose SID no source holds (an account of a forest that is not among the spec's sources)";
  }

  private holdersOf(sid: string): SidHolder[] {
    if (this.index === undefined) {
      this.index = new Map();
      for (const snapshot of this.snapshots) {
        for (const entry of snapshot.entries) {
          const bytes = entry.attrs.objectsid?.[0];
          const s = bytes instanceof Uint8Array ? sidToString(bytes) : undefined;
          if (s === undefined) continue;
          const list = this.index.get(s);
          const holder = { source: snapshot.source, dn: entry.dn };
          if (list) list.push(holder);
          else this.index.set(s, [holder]);
        }
      }
    }
    return this.index.get(sid) ?? [];
  }
}
