/**
 * What a source connector (LDAP, LDIF) yields: directory entries with raw attribute values.
 * Attribute names are lower-cased (LDAP attribute types are case-insensitive); the values keep their case.
 * Binary attributes (objectGUID, objectSid, mS-DS-ConsistencyGuid, ...) are bytes, everything else a string.
 */
export type AttrValue = string | Uint8Array;

export interface DirectoryEntry {
  /** The DN as the directory spelled it. */
  dn: string;
  /**
   * Lower-cased attribute name → values (never an empty array). An attribute the read asked for and that is
   * absent has no values: a group without `member` has no members (LDAP omits empty attributes).
   */
  attrs: Record<string, AttrValue[]>;
  /**
   * Attributes (lower-cased) whose values the connector could not read in full, with why (e.g. `member`
   * changed during a ranged read). What `attrs` holds for them is a part, never the whole list: the engine
   * removes nothing on the strength of it.
   */
  unread?: Record<string, string>;
}

/** Attributes AD stores as bytes; connectors must hand these over as Uint8Array. */
export const BINARY_ATTRIBUTES: ReadonlySet<string> = new Set([
  'objectguid',
  'objectsid',
  'ms-ds-consistencyguid',
  'msexchmailboxguid',
  'thumbnailphoto',
  'usercertificate',
  'sidhistory',
  'msexcharchiveguid',
]);

/** A naming context (domain partition) the source covers: its DN and its DNS name. */
export interface NamingContext {
  dn: string;
  dnsName: string;
}

/**
 * One full read of one source: every entry the connector saw under the scope's search bases.
 * Scope filtering beyond what the connector pushed to the server happens in the engine.
 */
export interface SourceSnapshot {
  source: string;
  namingContexts: NamingContext[];
  entries: DirectoryEntry[];
  /** DNs of objects under the read's bases that the read leaves out by class (computers), for member reports. */
  computers?: string[];
}

/** What the engine asks of a source connector (derived from the spec's scope and flows). */
export interface SourceReadRequest {
  /** Lower-cased attribute names the flows and scope need (`*` is never used). */
  attributes: string[];
  /** Search bases: the scope's included OUs, or the naming contexts of the scoped domains. Empty = everything. */
  baseDns: string[];
  /** An LDAP filter (RFC 4515) the server may apply; the engine re-applies scope anyway. */
  filter?: string;
}

/** A directory adsync reads from. The AD (ldapts) and LDIF connectors implement it. */
export interface SourceConnector {
  readonly name: string;
  read(request: SourceReadRequest): Promise<SourceSnapshot>;
  close(): Promise<void>;
}

export function firstString(entry: DirectoryEntry, attr: string): string | undefined {
  const v = entry.attrs[attr]?.[0];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
}
