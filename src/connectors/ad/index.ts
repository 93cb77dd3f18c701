/**
 * The Active Directory source: one streaming, paged pass over LDAPS (or StartTLS) per read, with ranged
 * retrieval of large multi-valued attributes, binary attributes as bytes, and the scope pushed to the server
 * (search bases, and the spec's filter ANDed with the object-class filter as filter objects).
 */
import type { Client, Entry, Filter } from 'ldapts';
import { AndFilter, EqualityFilter, FilterParser, NoSuchObjectError, NotFilter, OrFilter } from 'ldapts';
import { SourceError } from '../../errors.js';
import { BINARY_ATTRIBUTES } from '../../model/entry.js';
import type {
  AttrValue,
  DirectoryEntry,
  NamingContext,
  SourceConnector,
  SourceReadRequest,
  SourceSnapshot,
} from '../../model/entry.js';
import type { SourceSpec } from '../../spec/types.js';
import { mapLdapError, openLdap, resolveLdapSettings } from './connection.js';
import type { ConnectOptions, LdapConnection, LdapSettings } from './connection.js';
import { dnFromDnsName, dnsNameFromDn, isUnderDn, normalizeDn } from '../../model/dn.js';

export { resolveLdapSettings, openLdap, mapLdapError } from './connection.js';
export type { LdapSettings, LdapConnection, ConnectOptions } from './connection.js';

/** lDAPDisplayName spelling of the binary attributes: ldapts matches explicitBufferAttributes case-sensitively. */
const BINARY_CANONICAL: Record<string, string> = {
  objectguid: 'objectGUID',
  objectsid: 'objectSid',
  'ms-ds-consistencyguid': 'mS-DS-ConsistencyGuid',
  msexchmailboxguid: 'msExchMailboxGuid',
  thumbnailphoto: 'thumbnailPhoto',
  usercertificate: 'userCertificate',
  sidhistory: 'sIDHistory',
  msexcharchiveguid: 'msExchArchiveGUID',
};

/** Attributes the connector always reads: what an entry is, and its anchors. */
const ALWAYS = ['objectclass', 'objectguid', 'ms-ds-consistencyguid'];

/** Linked multi-valued attributes requested in explicit ranges when `rangeSize` is set. */
const RANGED = new Set(['member', 'memberof', 'msds-memberoftransitive', 'directreports']);

export interface AdSourceOptions extends ConnectOptions {
  /**
   * Ask for `member` & co. in explicit ranges of this many values (`member;range=0-1499`, …), as AD's
   * MaxValRange (1,500) would return them. Default: request plain names and follow whatever ranges the
   * server hands back (AD does so above MaxValRange; Samba returns every value at once).
   */
  rangeSize?: number;
  /**
   * Called before each further value range is requested (`member;range=1500-*` …): instrumentation, which
   * tests use to change the directory in the middle of a ranged read.
   */
  beforeRange?: (dn: string, attribute: string, from: number) => Promise<void> | void;
  /** List the DNs of the computers under the bases when `member` is read (for member reports; default true). */
  computers?: boolean;
}

export interface AdReadStats {
  bases: string[];
  pages: number;
  entries: number;
  /** Extra base-scope searches made to fetch further value ranges. */
  rangeRequests: number;
  elapsedMs: number;
}

/** The object-class filter: users, groups and contacts, never computers (which are users to LDAP). */
export function objectClassFilter(): Filter {
  return new AndFilter({
    filters: [
      new OrFilter({
        filters: ['user', 'group', 'contact'].map((v) => new EqualityFilter({ attribute: 'objectClass', value: v })),
      }),
      new NotFilter({ filter: new EqualityFilter({ attribute: 'objectClass', value: 'computer' }) }),
    ],
  });
}

/**
 * Parses an RFC 4515 filter into a filter object, strictly: anything after the first complete filter (the
 * tell-tale of `*)(` pasted into a string) is an error, so the filter can never break out of the AND it is put in.
 */
export function parseLdapFilter(text: string, where = 'filter'): Filter {
  const trimmed = text.trim();
  try {
    if (!trimmed.startsWith('(') || !trimmed.endsWith(')'))
      throw new SourceError('ldap_filter_invalid', 'a filter is one parenthesized expression, e.g. (department=Sales)');
    return FilterParser.parseString(trimmed);
  } catch (err) {
    throw new SourceError(
      'ldap_filter_invalid',
      `${where}: ${JSON.stringify(text)} is not one valid LDAP filter: ${(err as Error).message.split('. Full string')[0]}`,
      {
        hint: 'write one RFC 4515 filter; escape * ( ) \\ NUL in values as \\2a \\28 \\29 \\5c \\00',
      },
    );
  }
}

/** The server-side filter for a read: the object-class filter AND the request's filter (as objects). */
export function buildSearchFilter(requestFilter: string | undefined, where = 'scope.filter'): Filter {
  const base = objectClassFilter();
  if (requestFilter === undefined || requestFilter.trim() === '') return base;
  return new AndFilter({ filters: [base, parseLdapFilter(requestFilter, where)] });
}

const RANGE_RE = /^([^;]+);range=(\d+)-(\d+|\*)$/i;

function toValues(v: Entry[string]): AttrValue[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'string' ? x : new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice()));
}

export interface RootDse {
  defaultNamingContext?: string;
  rootDomainNamingContext?: string;
  configurationNamingContext?: string;
  schemaNamingContext?: string;
  namingContexts: string[];
  dnsHostName?: string;
}

export async function readRootDse(client: Client): Promise<RootDse> {
  const { searchEntries } = await client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: [
      'defaultNamingContext',
      'rootDomainNamingContext',
      'configurationNamingContext',
      'schemaNamingContext',
      'namingContexts',
      'dnsHostName',
    ],
  });
  const e = searchEntries[0] ?? { dn: '' };
  const one = (k: string): string | undefined => {
    const key = Object.keys(e).find((x) => x.toLowerCase() === k.toLowerCase());
    const v = key ? e[key] : undefined;
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? undefined : first.toString();
  };
  const nk = Object.keys(e).find((x) => x.toLowerCase() === 'namingcontexts');
  const ncs = nk ? toValues(e[nk]!).map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8'))) : [];
  const r: RootDse = { namingContexts: ncs };
  for (const k of [
    'defaultNamingContext',
    'rootDomainNamingContext',
    'configurationNamingContext',
    'schemaNamingContext',
    'dnsHostName',
  ] as const) {
    const v = one(k);
    if (v !== undefined) r[k] = v;
  }
  return r;
}

/**
 * The forest's domains as naming contexts (DN ↔ DNS name), from the crossRef objects in the partitions
 * container; falls back to the DC= components of the hosted naming contexts.
 */
export async function readDomains(client: Client, root: RootDse): Promise<NamingContext[]> {
  const out: NamingContext[] = [];
  if (root.configurationNamingContext) {
    try {
      const { searchEntries } = await client.search(`CN=Partitions,${root.configurationNamingContext}`, {
        scope: 'one',
        // crossRef with FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN (systemFlags & 3): a domain partition.
        filter: '(&(objectClass=crossRef)(systemFlags:1.2.840.113556.1.4.803:=3))',
        attributes: ['nCName', 'dnsRoot'],
      });
      for (const e of searchEntries) {
        const nc = e['nCName'];
        const dns = e['dnsRoot'];
        const ncs = Array.isArray(nc) ? nc[0] : nc;
        const d = Array.isArray(dns) ? dns[0] : dns;
        if (ncs !== undefined)
          out.push({ dn: ncs.toString(), dnsName: (d?.toString() ?? dnsNameFromDn(ncs.toString())).toLowerCase() });
      }
    } catch {
      /* not readable: fall back below */
    }
  }
  if (out.length === 0) {
    for (const nc of root.namingContexts) {
      if (/^dc=/i.test(nc) && !/^dc=(domaindnszones|forestdnszones),/i.test(nc))
        out.push({ dn: nc, dnsName: dnsNameFromDn(nc) });
    }
  }
  return out;
}

export class AdSource implements SourceConnector {
  readonly name: string;
  /** Figures from the last read (for logs and benchmarks). */
  lastReadStats: AdReadStats | undefined;
  private readonly spec: SourceSpec;
  private readonly specDir: string;
  private readonly options: AdSourceOptions;
  private conn: LdapConnection | undefined;

  constructor(spec: SourceSpec, specDir: string, options: AdSourceOptions = {}) {
    if (!spec.ldap)
      throw new SourceError('source_not_ldap', `source ${spec.name} has no ldap settings`, {
        hint: 'the AD source needs `ldap:` (url, bindDn, password)',
      });
    this.name = spec.name;
    this.spec = spec;
    this.specDir = specDir;
    this.options = options;
  }

  /** Connects and binds (once); later calls reuse the connection. */
  async connect(): Promise<LdapConnection> {
    if (this.conn) return this.conn;
    const settings = await resolveLdapSettings(this.spec, this.specDir, this.options.env ?? process.env);
    const conn = await openLdap(settings, this.options);
    try {
      await conn.bind();
    } catch (err) {
      await conn.close();
      throw err;
    }
    this.conn = conn;
    return conn;
  }

  /** The search bases for a request, and the naming contexts they lie in. */
  async resolveBases(
    client: Client,
    settings: LdapSettings,
    request: SourceReadRequest,
  ): Promise<{ bases: string[]; namingContexts: NamingContext[] }> {
    const root = await readRootDse(client);
    const domains = await readDomains(client, root);
    const hosted = new Set(root.namingContexts.map((nc) => normalizeDn(nc)));
    const scopeDomains = this.spec.scope.domains.map((d) => d.toLowerCase().replace(/\.$/, ''));
    const domainNc = (dns: string): NamingContext => {
      const found = domains.find((d) => d.dnsName === dns);
      const nc = found ?? { dn: dnFromDnsName(dns), dnsName: dns };
      if (!hosted.has(normalizeDn(nc.dn))) {
        throw new SourceError(
          'ldap_domain_not_hosted',
          `domain ${dns} (${nc.dn}) is not hosted by ${settings.host}${found ? '' : ' and is not a domain of its forest'}; it hosts ${root.namingContexts.filter((n) => /^dc=/i.test(n)).join(', ') || 'no domain'}`,
          {
            hint: `add a source pointing at a domain controller of ${dns}, or remove it from sources[${this.name}].scope.domains`,
          },
        );
      }
      return nc;
    };
    let bases: string[];
    if (request.baseDns.length > 0) bases = [...request.baseDns];
    else if (scopeDomains.length > 0) bases = scopeDomains.map((d) => domainNc(d).dn);
    else if (settings.baseDn) bases = [settings.baseDn];
    else if (root.defaultNamingContext) bases = [root.defaultNamingContext];
    else
      throw new SourceError('ldap_no_base', `${settings.host} names no default naming context`, {
        hint: `set sources[${this.name}].ldap.baseDn`,
      });
    // Drop bases that lie under another base: one pass reads each object once.
    const unique = bases.filter(
      (b, i) => !bases.some((o, j) => j !== i && isUnderDn(b, o) && (normalizeDn(b) !== normalizeDn(o) || j < i)),
    );
    const ncFor = (dn: string): NamingContext => {
      const candidates = [...domains, ...root.namingContexts.map((nc) => ({ dn: nc, dnsName: dnsNameFromDn(nc) }))];
      const best = candidates.filter((nc) => isUnderDn(dn, nc.dn)).sort((a, b) => b.dn.length - a.dn.length)[0];
      return best ?? { dn, dnsName: dnsNameFromDn(dn) };
    };
    const ncs = new Map<string, NamingContext>();
    for (const b of unique) {
      const nc = ncFor(b);
      ncs.set(normalizeDn(nc.dn), nc);
    }
    return { bases: unique, namingContexts: [...ncs.values()] };
  }

  /** Whether a read of `request` lists the computers under the bases (snapshot.computers). */
  listsComputers(request: SourceReadRequest): boolean {
    return request.attributes.includes('member') && this.options.computers !== false;
  }

  /** The attribute names and binary attributes a read of `request` asks for (as `read` asks for them). */
  private requestedAttributes(request: SourceReadRequest): { requested: string[]; explicitBuffers: string[] } {
    const wanted = [...new Set([...ALWAYS, ...request.attributes.map((a) => a.toLowerCase())])].filter(
      (a) => a !== '*' && a !== 'dn' && a !== 'distinguishedname',
    );
    const rangeSize = this.options.rangeSize;
    const requested = wanted.map((a) => (rangeSize && RANGED.has(a) ? `${a};range=0-${rangeSize - 1}` : a));
    const explicitBuffers = wanted
      .filter((a) => BINARY_ATTRIBUTES.has(a))
      .flatMap((a) => [a, BINARY_CANONICAL[a] ?? a]);
    return { requested, explicitBuffers };
  }

  /**
   * One object by objectGUID (for an incremental read, ./fold.ts): its DN and classes, and — when it is what a
   * read of `request` returns (a user, group or contact, not a computer, matching the filter) — the entry as a
   * read under its base would give it. `links` adds its memberOf and directReports back links (not in the
   * entry). Undefined when no live object has that GUID.
   */
  async readByGuid(
    request: SourceReadRequest,
    guid: Uint8Array,
    links = false,
  ): Promise<
    { dn: string; classes: string[]; entry?: DirectoryEntry; memberOf: string[]; directReports: string[] } | undefined
  > {
    const { client, settings } = await this.connect();
    const base = `<GUID=${Buffer.from(guid).toString('hex')}>`;
    const { requested, explicitBuffers } = this.requestedAttributes(request);
    const stats: AdReadStats = { bases: [], pages: 0, entries: 0, rangeRequests: 0, elapsedMs: 0 };
    const backlinks = (e: Entry | undefined, name: string): string[] => {
      const key = e === undefined ? undefined : Object.keys(e).find((k) => k.toLowerCase() === name);
      return key === undefined ? [] : toValues(e![key]!).map((v) => (typeof v === 'string' ? v : ''));
    };
    try {
      const probe = await client.search(base, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['objectClass', ...(links ? ['memberOf', 'directReports'] : [])],
      });
      const found = probe.searchEntries[0];
      if (found === undefined) return undefined;
      const classes = toValues(found['objectClass'] ?? []).map((c) => String(c).toLowerCase());
      const out = {
        dn: found.dn,
        classes,
        memberOf: links ? backlinks(found, 'memberof') : [],
        directReports: links ? backlinks(found, 'directreports') : [],
      };
      const { searchEntries } = await client.search(base, {
        scope: 'base',
        filter: buildSearchFilter(request.filter, `sources[${this.name}] scope filter`),
        attributes: requested,
        explicitBufferAttributes: explicitBuffers,
      });
      const raw = searchEntries[0];
      return raw === undefined ? out : { ...out, entry: await this.toEntry(client, raw, explicitBuffers, stats) };
    } catch (err) {
      if (err instanceof NoSuchObjectError) return undefined;
      throw mapLdapError(err, settings, { base });
    }
  }

  /** The entries a read of `request` finds under `bases` (each once), and the computers there when listed. */
  async readUnder(
    request: SourceReadRequest,
    bases: string[],
  ): Promise<{ entries: DirectoryEntry[]; computers: string[] }> {
    const { client, settings } = await this.connect();
    const stats: AdReadStats = { bases: [], pages: 0, entries: 0, rangeRequests: 0, elapsedMs: 0 };
    const at: { base?: string } = {};
    try {
      return await this.readBases(client, settings, request, bases, stats, at);
    } catch (err) {
      throw mapLdapError(err, settings, at.base === undefined ? {} : { base: at.base });
    }
  }

  async read(request: SourceReadRequest): Promise<SourceSnapshot> {
    const t0 = Date.now();
    const { client, settings } = await this.connect();
    const stats: AdReadStats = { bases: [], pages: 0, entries: 0, rangeRequests: 0, elapsedMs: 0 };
    const at: { base?: string } = {};
    try {
      const { bases, namingContexts } = await this.resolveBases(client, settings, request);
      stats.bases = bases;
      const { entries, computers } = await this.readBases(client, settings, request, bases, stats, at);
      stats.entries = entries.length;
      stats.elapsedMs = Date.now() - t0;
      this.lastReadStats = stats;
      return { source: this.name, namingContexts, entries, ...(computers.length > 0 ? { computers } : {}) };
    } catch (err) {
      throw mapLdapError(err, settings, at.base === undefined ? {} : { base: at.base });
    }
  }

  /**
   * One paged pass per base: the entries a read of `request` finds (each once, however the bases overlap), then
   * the computers under the bases when listed — never read, but groups list them as members: their DNs alone say
   * why those are left out. `at.base` names the base being searched (for the error an LDAP failure becomes).
   */
  private async readBases(
    client: Client,
    settings: LdapSettings,
    request: SourceReadRequest,
    bases: string[],
    stats: AdReadStats,
    at: { base?: string },
  ): Promise<{ entries: DirectoryEntry[]; computers: string[] }> {
    const filter = buildSearchFilter(request.filter, `sources[${this.name}] scope filter`);
    const { requested, explicitBuffers } = this.requestedAttributes(request);
    const seen = new Set<string>();
    const entries: DirectoryEntry[] = [];
    for (const base of bases) {
      at.base = base;
      for await (const page of client.searchPaginated(base, {
        scope: 'sub',
        filter,
        attributes: requested,
        explicitBufferAttributes: explicitBuffers,
        paged: { pageSize: settings.pageSize },
      })) {
        stats.pages++;
        for (const raw of page.searchEntries) {
          const key = normalizeDn(raw.dn);
          if (seen.has(key)) continue;
          seen.add(key);
          entries.push(await this.toEntry(client, raw, explicitBuffers, stats));
        }
      }
    }
    const computers: string[] = [];
    if (this.listsComputers(request)) {
      for (const base of bases) {
        at.base = base;
        for await (const page of client.searchPaginated(base, {
          scope: 'sub',
          filter: '(objectClass=computer)',
          attributes: ['1.1'],
          paged: { pageSize: settings.pageSize },
        })) {
          for (const raw of page.searchEntries) computers.push(raw.dn);
        }
      }
    }
    return { entries, computers };
  }

  /**
   * Converts one ldapts entry. A multi-valued attribute comes back whole (`member`) or as a range
   * (`member;range=0-1499`, AD above MaxValRange, or when asked for one); a range that does not end in `*`
   * is followed until one does. ldapts also lists every requested name the server did not return, with no
   * values: those say nothing, so only what the server sent counts. When the values can't all be read (the
   * object moved or vanished between range requests, the server answers out of order), the attribute is left
   * out and the entry says so (`unread`): a partial member list must never pass for
   * the whole one.
   */
  private async toEntry(
    client: Client,
    raw: Entry,
    explicitBuffers: string[],
    stats: AdReadStats,
  ): Promise<DirectoryEntry> {
    const attrs: Record<string, AttrValue[]> = {};
    let unread: Record<string, string> | undefined;
    for (const [name, value] of Object.entries(raw)) {
      if (name === 'dn') continue;
      const m = RANGE_RE.exec(name);
      const attr = (m ? m[1]! : name).toLowerCase();
      let values = toValues(value);
      // No values: absent, the echo of a requested name, or a range past the end (`member;range=10-*`).
      if (values.length === 0) continue;
      if (m && m[3] !== '*') {
        const rest = await this.fetchRanges(client, raw.dn, m[1]!, Number(m[3]) + 1, explicitBuffers, stats);
        // A range that broke off (the object moved or vanished, the list changed meanwhile): what was read is a
        // part, never the whole list; the engine adds what it names and removes nothing on its account.
        if (rest === undefined)
          (unread ??= {})[attr] = `${attr} changed while its values were read in ranges; ${values.length} read`;
        else values = values.concat(rest);
      }
      if (values.length === 0) continue;
      attrs[attr] = (attrs[attr] ?? []).concat(values);
    }
    for (const a of Object.keys(attrs)) {
      if (BINARY_ATTRIBUTES.has(a) && attrs[a]!.some((v) => typeof v === 'string')) {
        throw new SourceError('ldap_binary_decoding', `${raw.dn}: binary attribute ${a} came back as text`, {
          hint: 'this is an adsync bug (the server spelled the attribute name unexpectedly); please report it',
        });
      }
    }
    refuseWrongGuids(raw.dn, attrs);
    return unread ? { dn: raw.dn, attrs, unread } : { dn: raw.dn, attrs };
  }

  /**
   * The values of `attr` from `start` on, range by range, as the server hands them out; undefined when they
   * can't be read completely (then nothing of the attribute may be trusted).
   */
  private async fetchRanges(
    client: Client,
    dn: string,
    attr: string,
    start: number,
    explicitBuffers: string[],
    stats: AdReadStats,
  ): Promise<AttrValue[] | undefined> {
    const out: AttrValue[] = [];
    let next = start;
    for (let guard = 0; guard < 100_000; guard++) {
      const upper = this.options.rangeSize ? String(next + this.options.rangeSize - 1) : '*';
      await this.options.beforeRange?.(dn, attr, next);
      stats.rangeRequests++;
      let e: Entry | undefined;
      try {
        ({
          searchEntries: [e],
        } = await client.search(dn, {
          scope: 'base',
          filter: '(objectClass=*)',
          attributes: [`${attr};range=${next}-${upper}`],
          explicitBufferAttributes: explicitBuffers,
        }));
      } catch (err) {
        // The object was deleted or moved since the page that listed it: its values are unknown, not empty.
        if (err instanceof NoSuchObjectError) return undefined;
        throw err;
      }
      if (!e) return undefined;
      // What the server sent: a range of this attribute with values, or one that ends in `*` (the end).
      const ranges = Object.keys(e)
        .map((k) => [k, RANGE_RE.exec(k)] as const)
        .filter(([, mm]) => mm && mm[1]!.toLowerCase() === attr.toLowerCase());
      const sent = ranges.find(([k, mm]) => toValues(e[k]!).length > 0 || mm![3] === '*');
      if (!sent) {
        // A plain name with every value (a server that ignores range options) replaces what was read so far.
        const plain = Object.keys(e).find((k) => k.toLowerCase() === attr.toLowerCase());
        if (plain !== undefined && toValues(e[plain]!).length >= next) return toValues(e[plain]!).slice(next);
        // Nothing from `next` on, though the previous range said there was more: the values changed meanwhile.
        return undefined;
      }
      const [name, mm] = sent;
      const got = toValues(e[name]!);
      if (Number(mm![2]) !== next) return undefined;
      // The previous range promised more; none came, so the list shrank and values shifted past this read.
      if (got.length === 0) return undefined;
      out.push(...got);
      if (mm![3] === '*') return out;
      const hi = Number(mm![3]);
      if (hi < next || got.length === 0) return undefined;
      next = hi + 1;
    }
    return undefined;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.close();
  }
}

/** Attributes that anchor objects: a GUID, 16 bytes (the LDIF reader holds exports to the same rule). */
const GUID_ATTRIBUTES = ['objectguid', 'ms-ds-consistencyguid'] as const;
const GUID_BYTES = 16;

/**
 * Refuses the read when an entry's objectGUID or mS-DS-ConsistencyGuid is not one value of 16 bytes, as the LDIF
 * reader refuses such an export. mS-DS-ConsistencyGuid is a free octet string in AD's schema (no range), so a
 * script can write any length there. Such a value would anchor the object wrongly: an anchor Entra Connect never
 * computes, so a second cloud object beside the real twin; and no per-entry way out is safe: left out of the read,
 * the object would look deleted and its twin would be deleted; anchored by objectGUID instead, it may be another
 * identity. So the read stops and names the object, as for a damaged export.
 */
function refuseWrongGuids(dn: string, attrs: Record<string, AttrValue[]>): void {
  for (const a of GUID_ATTRIBUTES) {
    const values = attrs[a];
    if (values === undefined) continue;
    const bad = values.find((v) => v.length !== GUID_BYTES);
    if (bad === undefined && values.length === 1) continue;
    const name = BINARY_CANONICAL[a] ?? a;
    throw new SourceError(
      'ldap_guid_invalid',
      bad === undefined
        ? `${dn}: ${name} has ${values.length} values; an object has one GUID`
        : `${dn}: ${name} holds ${bad.length} byte${bad.length === 1 ? '' : 's'}; a GUID is ${GUID_BYTES}, and adsync will not anchor the object on it`,
      {
        hint: `correct ${name} in AD: it must be the object's 16-byte anchor (Entra Connect writes the objectGUID's bytes there; its cloud twin's onPremisesImmutableId is their base64), or clear it if it never was the anchor`,
      },
    );
  }
}

/** Creates the AD source for a spec source (the shape command code calls). */
export function createAdSource(spec: SourceSpec, specDir: string, options: AdSourceOptions = {}): AdSource {
  return new AdSource(spec, specDir, options);
}
