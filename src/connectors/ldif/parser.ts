/**
 * An RFC 2849 LDIF reader for the content records that `ldifde -f` and `ldapsearch -LLL` export.
 *
 * Why our own: the one LDIF package on npm (`ldif` 0.5.x) is a PEG parser over the whole text, unmaintained
 * and not streaming; a 100,000-user export with a million `member` values must parse in a few seconds
 * without holding the file in memory. This reader works on bytes in chunks, decodes only the values the
 * caller keeps (each into its own string, so no chunk stays alive through a slice), and reports every
 * problem as `file:line`.
 *
 * Accepted: `version: 1`, comments (also folded), folded lines, `attr: value`, `attr:: base64`, `dn::`,
 * attribute options (`;binary`, `;range=0-*` are dropped; the values join the plain attribute),
 * `changetype: add`, CRLF, any number of blank lines between records, ldapsearch's `search:`/`result:` trailer.
 * Refused with `file:line`: `attr:< url`, other change types, controls, a truncated ranged attribute
 * (`member;range=0-1499`), malformed lines and base64.
 */
import { SourceError } from '../../errors.js';
import { BINARY_ATTRIBUTES } from '../../model/entry.js';
import type { AttrValue } from '../../model/entry.js';

export interface LdifRecord {
  dn: string;
  /** 1-based line of the record's `dn:` line. */
  line: number;
  /** Lower-cased attribute name (options dropped) → values; binary attributes as bytes. */
  attrs: Record<string, AttrValue[]>;
}

export interface LdifParseOptions {
  /** Shown in error messages (`file:line`). */
  file?: string;
  /** Called with each record's DN before its attributes are decoded: false skips the record cheaply. */
  acceptDn?: (dn: string, line: number) => boolean;
  /** Called once per distinct lower-cased attribute name: false skips that attribute's values. */
  acceptAttribute?: (name: string) => boolean;
}

const NL = 10;
const CR = 13;
const SPACE = 32;
const COLON = 58;
const HASH = 35;
const SEMI = 59;
const LT = 60;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface AttrInfo {
  /** Lower-cased name without options. */
  name: string;
  binary: boolean;
  accepted: boolean;
  /** Option text that makes the line unusable (a truncated range), or undefined. */
  refuse: string | undefined;
}

/**
 * A push parser: feed it chunks of bytes with `push`, then call `end`. Each complete record goes to `onRecord`.
 * Line splitting, unfolding and decoding happen on bytes; a pending (possibly folded) line is copied at a
 * chunk boundary, so callers may reuse their chunk buffers.
 */
export class LdifParser {
  private readonly file: string;
  private readonly acceptDn: ((dn: string, line: number) => boolean) | undefined;
  private readonly acceptAttribute: ((name: string) => boolean) | undefined;
  private readonly onRecord: (record: LdifRecord) => void;

  /** Bytes of an incomplete physical line carried over from the previous chunk. */
  private carry: Buffer | undefined;
  /** Physical line number of the next line to be read (1-based). */
  private lineNo = 1;
  /** The logical line being assembled: its pieces (without the continuation space) and first line number. */
  private pending: Buffer[] = [];
  private pendingLine = 0;
  private pendingIsComment = false;
  /** True after a `dn:` line until the record's blank line. */
  private inRecord = false;
  private skipping = false;
  /** Whether the current record is ldapsearch's `search:` / `result:` trailer. */
  private inTrailer = false;
  private sawAnyLine = false;
  private afterChangetype = false;
  private current: LdifRecord | undefined;
  private readonly attrCache = new Map<string, AttrInfo>();

  constructor(onRecord: (record: LdifRecord) => void, options: LdifParseOptions = {}) {
    this.onRecord = onRecord;
    this.file = options.file ?? '<ldif>';
    this.acceptDn = options.acceptDn;
    this.acceptAttribute = options.acceptAttribute;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let start = 0;
    const n = buf.length;
    while (start < n) {
      const nl = buf.indexOf(NL, start);
      if (nl === -1) {
        this.carry = Buffer.from(buf.subarray(start));
        break;
      }
      let end = nl;
      if (end > start && buf[end - 1] === CR) end--;
      this.physicalLine(buf, start, end);
      start = nl + 1;
    }
    // Pieces of a pending logical line still point into `buf`: copy them so the caller's buffer can go.
    if (this.pending.length > 0) this.pending = [Buffer.concat(this.pending)];
  }

  end(): void {
    if (this.carry !== undefined) {
      const c = this.carry;
      this.carry = undefined;
      let e = c.length;
      if (e > 0 && c[e - 1] === CR) e--;
      this.physicalLine(c, 0, e);
    }
    this.flushLogical();
    this.endRecord();
  }

  private physicalLine(buf: Buffer, start: number, end: number): void {
    const line = this.lineNo++;
    if (start === end) {
      // Blank line: ends the logical line and the record.
      this.flushLogical();
      this.endRecord();
      return;
    }
    const first = buf[start];
    if (first === SPACE) {
      if (this.pending.length === 0) {
        throw this.error(line, 'a continuation line (starting with a space) follows no line to continue', 'remove the leading space, or join it to the line above');
      }
      if (!this.pendingIsComment && !this.skipping) this.pending.push(buf.subarray(start + 1, end));
      return;
    }
    this.flushLogical();
    this.pendingLine = line;
    this.pendingIsComment = first === HASH;
    // Lines of a skipped record are counted but never decoded.
    if (this.pendingIsComment || this.skipping) this.pending.push(EMPTY);
    else this.pending.push(buf.subarray(start, end));
  }

  private flushLogical(): void {
    if (this.pending.length === 0) return;
    const pieces = this.pending;
    this.pending = [];
    if (this.pendingIsComment || this.skipping) return;
    const buf = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    this.logicalLine(buf, this.pendingLine);
  }

  private logicalLine(buf: Buffer, line: number): void {
    const n = buf.length;
    const colon = buf.indexOf(COLON);
    if (colon <= 0) {
      throw this.error(line, `expected "attribute: value", got "${preview(buf)}"`, 'every line of a record is "name: value", "name:: base64" or a continuation starting with one space');
    }
    const rawName = buf.toString('latin1', 0, colon);
    // Value start and kind: ':' plain, '::' base64, ':<' URL.
    let p = colon + 1;
    let kind = 0; // 0 plain, 1 base64, 2 url
    if (p < n && buf[p] === COLON) {
      kind = 1;
      p++;
    } else if (p < n && buf[p] === LT) {
      kind = 2;
      p++;
    }
    while (p < n && buf[p] === SPACE) p++;

    if (!this.inRecord) {
      const lname = rawName.toLowerCase();
      if (lname === 'dn') {
        this.startRecord(this.decodeText(buf, p, n, kind, line, 'dn'), line);
        return;
      }
      if (lname === 'version' && !this.sawAnyLine) {
        this.sawAnyLine = true;
        const v = buf.toString('latin1', p, n).trim();
        if (v !== '1') throw this.error(line, `unsupported LDIF version "${v}"`, 'only "version: 1" (RFC 2849) exists');
        return;
      }
      if (lname === 'search' || (this.inTrailer && lname === 'result')) {
        // ldapsearch without -LLL ends with "search: N" / "result: 0 Success": not an entry.
        this.inTrailer = true;
        return;
      }
      throw this.error(line, `a record must start with "dn:", got "${rawName}:"`, 'separate records with a blank line; each begins with its "dn:" line');
    }
    this.sawAnyLine = true;

    let info = this.attrCache.get(rawName);
    if (info === undefined) info = this.attrInfo(rawName, line);
    const rec = this.current!;
    if (info.name === 'changetype') {
      const ct = buf.toString('latin1', p, n).trim().toLowerCase();
      if (Object.keys(rec.attrs).length > 0 || this.afterChangetype) {
        throw this.error(line, '"changetype:" must directly follow the "dn:" line', 'move it up to the line after "dn:"');
      }
      if (ct !== 'add') {
        throw this.error(line, `"changetype: ${ct}" is not an export`, 'adsync reads exports of entries (ldifde -f, ldapsearch -LLL): records with no changetype or "changetype: add"');
      }
      this.afterChangetype = true;
      return;
    }
    if (info.name === 'control') {
      throw this.error(line, 'LDIF controls are not supported', 'adsync reads exports of entries (ldifde -f, ldapsearch -LLL), not change files');
    }
    if (info.refuse !== undefined) {
      throw this.error(line, `"${rawName}" holds only part of the values (${info.refuse})`, 'export with ldifde, which fetches every value of large multi-valued attributes, or with a client that follows range retrieval');
    }
    if (kind === 2) {
      throw this.error(line, `"${rawName}:<" (a value by URL) is not supported`, 'export the value inline ("name:: base64"); ldifde and ldapsearch do so by default');
    }
    if (!info.accepted) return;
    let value: AttrValue;
    if (kind === 1) {
      const bytes = this.decodeBase64(buf, p, n, line, rawName);
      value = info.binary ? bytes : bytes.toString('utf8');
    } else if (info.binary) {
      value = Buffer.from(buf.subarray(p, n));
    } else {
      value = buf.toString('utf8', p, n);
    }
    const attrs = rec.attrs;
    const list = Object.hasOwn(attrs, info.name) ? attrs[info.name] : undefined;
    if (list === undefined) attrs[info.name] = [value];
    else list.push(value);
  }

  private attrInfo(rawName: string, line: number): AttrInfo {
    let name = rawName;
    let refuse: string | undefined;
    const semi = rawName.indexOf(';');
    if (semi !== -1) {
      name = rawName.slice(0, semi);
      for (const opt of rawName.slice(semi + 1).split(';')) {
        const m = /^range=\d+-(\d+|\*)$/i.exec(opt);
        if (m !== null && m[1] !== '*') refuse = opt;
      }
    }
    name = name.toLowerCase();
    if (!/^(?:[a-z][a-z0-9_-]*|\d+(?:\.\d+)*)$/.test(name)) {
      throw this.error(line, `"${rawName}" is not an attribute name`, 'attribute names are letters, digits and hyphens (or an OID), followed by ":"');
    }
    const info: AttrInfo = {
      name,
      binary: BINARY_ATTRIBUTES.has(name),
      accepted: name === 'changetype' || name === 'control' || (this.acceptAttribute?.(name) ?? true),
      refuse,
    };
    this.attrCache.set(rawName, info);
    return info;
  }

  private startRecord(dn: string, line: number): void {
    this.sawAnyLine = true;
    this.inTrailer = false;
    this.inRecord = true;
    this.afterChangetype = false;
    if (this.acceptDn !== undefined && !this.acceptDn(dn, line)) {
      this.skipping = true;
      this.current = undefined;
      return;
    }
    this.current = { dn, line, attrs: {} };
  }

  private endRecord(): void {
    this.inTrailer = false;
    if (!this.inRecord) return;
    this.inRecord = false;
    this.afterChangetype = false;
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const rec = this.current!;
    this.current = undefined;
    this.onRecord(rec);
  }

  private decodeText(buf: Buffer, p: number, n: number, kind: number, line: number, name: string): string {
    if (kind === 2) throw this.error(line, `"${name}:<" (a value by URL) is not supported`, 'write the DN inline');
    if (kind === 1) return this.decodeBase64(buf, p, n, line, name).toString('utf8');
    return buf.toString('utf8', p, n);
  }

  private decodeBase64(buf: Buffer, p: number, n: number, line: number, name: string): Buffer {
    let text = buf.toString('latin1', p, n);
    if (text.includes(' ')) text = text.replace(/ /g, '');
    if (text.length % 4 !== 0 || !BASE64.test(text)) {
      throw this.error(line, `the base64 value of "${name}::" is malformed`, 'a "::" value must be base64 (RFC 4648) of the value\'s bytes');
    }
    return Buffer.from(text, 'base64');
  }

  private error(line: number, message: string, hint: string): SourceError {
    return new SourceError('ldif_syntax', `${this.file}:${line}: ${message}`, { hint });
  }
}

const EMPTY = Buffer.alloc(0);

function preview(buf: Buffer): string {
  const s = buf.toString('utf8', 0, Math.min(buf.length, 40));
  return buf.length > 40 ? `${s}…` : s;
}

/** Parses LDIF held in memory (tests, small files). */
export function parseLdif(text: string | Uint8Array, options: LdifParseOptions = {}): LdifRecord[] {
  const records: LdifRecord[] = [];
  const parser = new LdifParser((r) => records.push(r), options);
  parser.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength));
  parser.end();
  return records;
}

/** How big a read is: large enough to amortise the calls, small enough to stay out of the old generation. */
const CHUNK = 1 << 20;

/**
 * Streams an LDIF file through the parser, once, in 1 MiB reads. A missing or unreadable file is one
 * SourceError (`ldif_not_found`, `ldif_unreadable`) with a hint.
 */
export async function parseLdifFile(path: string, onRecord: (record: LdifRecord) => void, options: LdifParseOptions = {}): Promise<void> {
  const { open } = await import('node:fs/promises');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SourceError('ldif_not_found', `LDIF file not found: ${path}`, { hint: 'check the source\'s ldif.path (relative paths are relative to the spec file)' });
    }
    throw new SourceError('ldif_unreadable', `cannot read LDIF file ${path}: ${(err as Error).message}`, { hint: 'check the path and its permissions', cause: err });
  }
  try {
    const parser = new LdifParser(onRecord, { ...options, file: options.file ?? path });
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      let r;
      try {
        r = await fh.read(chunk, 0, CHUNK, null);
      } catch (err) {
        throw new SourceError('ldif_unreadable', `cannot read LDIF file ${path}: ${(err as Error).message}`, { hint: 'check that the path is a readable file', cause: err });
      }
      if (r.bytesRead === 0) break;
      parser.push(r.bytesRead === CHUNK ? chunk : chunk.subarray(0, r.bytesRead));
    }
    parser.end();
  } finally {
    await fh.close();
  }
}
