/**
 * The LDIF source: plans offline from an export (`ldifde -f`, `ldapsearch -LLL`) as if it were the live forest.
 * One streaming pass over the file; entries outside the search bases and attributes nobody asked for are
 * dropped while parsing, so memory follows what the engine keeps, not the file's size.
 */
import type {
  AttrValue,
  DirectoryEntry,
  NamingContext,
  SourceConnector,
  SourceReadRequest,
  SourceSnapshot,
} from '../../model/entry.js';
import { domainRootOf, isUnder, normalizeDn, parentDn } from '../../model/dn.js';
import { SourceError } from '../../errors.js';
import { LdifParser, parseLdifFile, type LdifParseOptions, type LdifRecord } from './parser.js';
import { LdifRecordScanner, type LdifRecordIndex } from './records.js';

export { LdifParser, parseLdif, parseLdifFile } from './parser.js';
export type { LdifParseOptions, LdifRecord } from './parser.js';

export interface LdifSourceOptions {
  /** The source's name in the spec. */
  name: string;
  /** Path of the LDIF file. */
  path: string;
}

/** Attributes every entry keeps, whatever the request asks: the engine needs them to classify and anchor. */
export const ALWAYS_READ: readonly string[] = [
  'objectclass',
  'objectguid',
  'ms-ds-consistencyguid',
  'distinguishedname',
];

export class LdifSource implements SourceConnector {
  readonly name: string;
  readonly path: string;
  /** `sha256:<hex>` of the bytes the last read parsed (the incremental state's content digest). */
  contentDigest: string | undefined;

  constructor(options: LdifSourceOptions) {
    this.name = options.name;
    this.path = options.path;
  }

  /**
   * Set before a read to index the export's records as they are read (the stored plan's patching,
   * src/sync/local-edits.ts): `records` and `ordinals` are then set by the read.
   */
  indexRecords = false;
  /** The last read's record index (with indexRecords; undefined when the export can't be indexed). */
  records: LdifRecordIndex | undefined;
  /** The last read's records by DN → their place in the file (with indexRecords). */
  ordinals: Map<string, number> | undefined;

  async read(request: SourceReadRequest): Promise<SourceSnapshot> {
    const reading = this.reading(request);
    // The records are told apart as the bytes are parsed: the content digest is theirs (./records.ts).
    const scanner = new LdifRecordScanner();
    const ordinals = this.indexRecords ? new Map<string, number>() : undefined;
    this.contentDigest = undefined;
    this.records = undefined;
    this.ordinals = undefined;
    await parseLdifFile(this.path, reading.onRecord, {
      ...reading.options,
      ...(ordinals !== undefined
        ? {
            acceptDn: (dn: string, line: number) => {
              ordinals.set(dn, ordinals.size);
              return reading.options.acceptDn(dn, line);
            },
          }
        : {}),
      onBytes: (chunk) => scanner.push(chunk),
    });
    const index = scanner.end();
    this.contentDigest = index.digest;
    // The scanner's records are the parser's (one per `dn:` line): if they ever disagree, no index.
    if (ordinals !== undefined && index.count === ordinals.size) {
      this.records = index;
      this.ordinals = ordinals;
    }
    return reading.snapshot();
  }

  /**
   * Some records of the export, read as `read` reads the whole file (the same scope, attributes and checks),
   * with the naming contexts the whole file gave: what the stored plan's patching rebuilds objects from.
   */
  readRecords(request: SourceReadRequest, records: readonly Buffer[], namingContexts: NamingContext[]): SourceSnapshot {
    const reading = this.reading(request);
    const parser = new LdifParser(reading.onRecord, { ...reading.options, file: this.path });
    for (const r of records) {
      parser.push(r);
      parser.push(Buffer.from('\n\n'));
    }
    parser.end();
    return { ...reading.snapshot(), namingContexts };
  }

  /** The per-record logic of a read: scope by search base, one record per DN, the naming contexts. */
  private reading(request: SourceReadRequest): {
    onRecord: (record: LdifRecord) => void;
    options: LdifParseOptions & { acceptDn: (dn: string, line: number) => boolean };
    snapshot: () => SourceSnapshot;
  } {
    const bases = request.baseDns.map((b) => {
      try {
        return normalizeDn(b);
      } catch (err) {
        throw new SourceError('ldif_base_invalid', `source ${this.name}: search base "${b}" is not a valid DN`, {
          hint: 'write OUs and domains as DNs, e.g. OU=Staff,DC=corp,DC=example',
          cause: err,
        });
      }
    });
    const wanted =
      request.attributes.length === 0
        ? undefined
        : new Set([...request.attributes.map((a) => a.toLowerCase()), ...ALWAYS_READ]);

    const entries: DirectoryEntry[] = [];
    const domains = new Map<string, NamingContext>();
    const derived = new Map<string, NamingContext>();
    // Suffixes already seen → their derived domain root, so each distinct parent is parsed once.
    const rootBySuffix = new Map<string, NamingContext | undefined>();
    const file = this.path;

    const noteDerived = (dn: string, norm: string): void => {
      const suffix = parentDn(norm) || norm; // canonical values may hold an escaped '\,'
      let ctx = rootBySuffix.get(suffix);
      if (ctx === undefined && !rootBySuffix.has(suffix)) {
        ctx = domainRootOf(dn);
        rootBySuffix.set(suffix, ctx);
      }
      if (ctx !== undefined && !derived.has(ctx.dnsName)) derived.set(ctx.dnsName, ctx);
    };

    // Whether the record being parsed is in scope; domain roots are parsed even outside scope, to name them.
    let inScope = false;
    // Normalized DN → its line: two records for one DN would become two objects with one name.
    const seenDns = new Map<string, number>();
    return {
      onRecord: (record) => {
        const attrs = record.attrs;
        if (isDomainDns(attrs['objectclass'])) {
          const dnsName = domainRootOf(record.dn)?.dnsName ?? record.dn.toLowerCase();
          domains.set(dnsName, { dn: record.dn, dnsName });
        }
        if (inScope) entries.push({ dn: record.dn, attrs });
      },
      options: {
        file,
        acceptDn: (dn, line) => {
          let norm: string;
          try {
            norm = normalizeDn(dn);
          } catch (err) {
            throw new SourceError('ldif_syntax', `${file}:${line}: ${(err as Error).message}`, {
              hint: 'escape "," "+" ";" "\\" "=" in DN values with a backslash, as ldifde does',
              cause: err,
            });
          }
          if (norm === '') {
            inScope = false; // the root DSE is not an object to sync
            return false;
          }
          const first = seenDns.get(norm);
          if (first !== undefined) {
            throw new SourceError(
              'ldif_duplicate_dn',
              `${file}:${line}: a second record for "${dn}" (the first is at line ${first})`,
              {
                hint: 'an export has one record per object: remove or merge the duplicate (was the file concatenated from two exports?)',
              },
            );
          }
          seenDns.set(norm, line);
          noteDerived(dn, norm);
          inScope = bases.length === 0 || bases.some((b) => isUnder(norm, b));
          return inScope || norm.startsWith('dc=');
        },
        ...(wanted === undefined ? {} : { acceptAttribute: (name: string) => wanted.has(name) }),
      },
      snapshot: () => {
        const contexts = domains.size > 0 ? [...domains.values()] : [...derived.values()];
        contexts.sort((a, b) => (a.dnsName < b.dnsName ? -1 : a.dnsName > b.dnsName ? 1 : 0));
        return { source: this.name, namingContexts: contexts, entries };
      },
    };
  }

  async close(): Promise<void> {}
}

function isDomainDns(values: AttrValue[] | undefined): boolean {
  if (values === undefined) return false;
  for (const v of values) if (typeof v === 'string' && v.toLowerCase() === 'domaindns') return true;
  return false;
}
