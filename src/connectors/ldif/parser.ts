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
 * (`member;range=0-1499`), malformed lines and base64, text that is not UTF-8, and identities that would
 * anchor an object wrongly: a GUID (objectGUID, mS-DS-ConsistencyGuid) that is empty, not 16 bytes, or
 * written as text instead of base64.
 */
import { isUtf8 } from 'node:buffer';
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
  /** parseLdifFile: each chunk of the file as read (to digest exactly the bytes parsed). */
  onBytes?: (chunk: Buffer) => void;
}

/** Attributes that anchor objects: 16 bytes, exported as base64 (`::`) by every AD tool. */
const GUID_ATTRIBUTES: ReadonlySet<string> = new Set(['objectguid', 'ms-ds-consistencyguid']);
const GUID_BYTES = 16;
const UTF8_HINT =
  'LDIF text is UTF-8 (RFC 2849): re-export with `ldifde -u`, or convert the file (e.g. iconv -f CP1252 -t UTF-8)';

/**
 * Attributes whose values name other entries by DN (AD's DN syntax). Each such value is one string per
 * distinct DN, shared with the named entry's own `dn` (a million `member` values name 100,000 users).
 */
const DN_ATTRIBUTES: ReadonlySet<string> = new Set([
  'member',
  'manager',
  'distinguishedname',
  'managedby',
  'memberof',
  'directreports',
  'secretary',
  'assistant',
]);
/**
 * Values of other attributes are shared while the attribute looks low-cardinality (objectClass, company,
 * department, title): after SHARE_PROBE values, only while it has at most one distinct value in SHARE_RATIO.
 */
const SHARE_PROBE = 256;
const SHARE_RATIO = 4;

const CR = 13;
const SPACE = 32;
const COLON = 58;
const HASH = 35;
const LT = 60;

interface AttrInfo {
  /** The name as the file spells it, options included. */
  raw: string;
  /** Lower-cased name without options. */
  name: string;
  /** Index of `name` in the record's value slots. */
  slot: number;
  /** The attribute that followed this one last time: records of one kind repeat their sequence. */
  next: AttrInfo | undefined;
  binary: boolean;
  /** An anchor attribute: base64 of exactly 16 bytes. */
  guid: boolean;
  /** Its values are DNs (DN_ATTRIBUTES). */
  dn: boolean;
  accepted: boolean;
  /** Option text that makes the line unusable (a truncated range), or undefined. */
  refuse: string | undefined;
}

/**
 * A push parser: feed it chunks of bytes with `push`, then call `end`. Each complete record goes to `onRecord`.
 * Chunks are decoded to text once (UTF-8, split characters carried over); lines and values are then located
 * by index, and only the values a caller keeps become strings of their own.
 */
export class LdifParser {
  private readonly file: string;
  private readonly acceptDn: ((dn: string, line: number) => boolean) | undefined;
  private readonly acceptAttribute: ((name: string) => boolean) | undefined;
  private readonly onRecord: (record: LdifRecord) => void;
  /** The chunk being parsed and its latin1 text: values inside it are decoded from these bytes. */
  private bytes: Buffer | undefined;
  private bytesText = '';

  /** Text of an incomplete physical line carried over from the previous chunk. */
  private carry = '';
  /** Physical line number of the next line to be read (1-based). */
  private lineNo = 1;
  /**
   * The logical line being assembled. Unfolded, it is the range [pendingStart, pendingEnd) of pendingText;
   * folded, its pieces are in pendingParts. pendingLine = 0 when there is none.
   */
  private pendingText = '';
  private pendingStart = 0;
  private pendingEnd = 0;
  private pendingParts: string[] | undefined;
  private pendingLine = 0;
  /** The pending line is a comment, or belongs to a skipped record: its continuations are dropped. */
  private pendingIgnored = false;
  /** True after a `dn:` line until the record's blank line. */
  private inRecord = false;
  private skipping = false;
  /** Whether the current record is ldapsearch's `search:` / `result:` trailer. */
  private inTrailer = false;
  private sawAnyLine = false;
  private afterChangetype = false;
  private sawAttribute = false;
  private currentDn = '';
  private currentLine = 0;
  private readonly attrCache = new Map<string, AttrInfo>();
  /** Attribute names by slot, and the current record's values by slot with the slots in first-seen order. */
  private readonly slotNames: string[] = [];
  private readonly slotByName = new Map<string, number>();
  private readonly values: Array<AttrValue[] | undefined> = [];
  private readonly order: number[] = [];
  /** Every DN seen (records' and DN values'), as its one shared string. */
  private readonly dns = new Map<string, string>();
  /** Per slot: the values shared so far and how many were seen; null once the attribute looks high-cardinality. */
  private readonly shared: Array<{ values: Map<string, string>; seen: number } | null | undefined> = [];
  /** The previous attribute line's info in this record (`start` before the first). */
  private readonly start: AttrInfo = {
    raw: '',
    name: '',
    slot: -1,
    next: undefined,
    binary: false,
    guid: false,
    dn: false,
    accepted: false,
    refuse: undefined,
  };
  private prev: AttrInfo = this.start;

  constructor(onRecord: (record: LdifRecord) => void, options: LdifParseOptions = {}) {
    this.onRecord = onRecord;
    this.file = options.file ?? '<ldif>';
    this.acceptDn = options.acceptDn;
    this.acceptAttribute = options.acceptAttribute;
  }

  /**
   * Parses a chunk. The chunk is only read during the call (the caller may reuse it afterwards).
   * The text is scanned as latin1 (one character per byte, so character and byte offsets agree, and LDIF's
   * syntax is ASCII); each kept value is then decoded as UTF-8 straight from the bytes into its own string.
   */
  push(chunk: Uint8Array): void {
    const bytes = chunk instanceof Buffer ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const text = latin1(bytes, 0, bytes.length);
    this.bytes = bytes;
    this.bytesText = text;
    try {
      this.pushText(text);
    } finally {
      this.bytes = undefined;
      this.bytesText = '';
    }
  }

  end(): void {
    if (this.carry !== '') {
      const c = this.carry;
      this.carry = '';
      let e = c.length;
      if (c.charCodeAt(e - 1) === CR) e--;
      this.physicalLine(c, 0, e);
    }
    this.flushLogical();
    this.endRecord();
  }

  private pushText(text: string): void {
    let start = 0;
    if (this.carry !== '') {
      // Finish the carried line on its own, so the chunk's text stays one flat string (fast to index).
      const nl = text.indexOf('\n');
      if (nl === -1) {
        this.carry += text;
        return;
      }
      const line = this.carry + text.slice(0, nl);
      this.carry = '';
      const end = line.charCodeAt(line.length - 1) === CR ? line.length - 1 : line.length;
      this.physicalLine(line, 0, end);
      start = nl + 1;
    }
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === CR) end--;
      this.physicalLine(text, start, end);
      start = nl + 1;
    }
    if (start < text.length) this.carry = text.slice(start);
    // A pending line still points into this chunk's text: give it its own copy so the chunk can go.
    if (this.pendingLine !== 0 && this.pendingParts === undefined && this.pendingText === text) {
      this.pendingText = text.slice(this.pendingStart, this.pendingEnd);
      this.pendingStart = 0;
      this.pendingEnd = this.pendingText.length;
    }
  }

  private physicalLine(text: string, start: number, end: number): void {
    const line = this.lineNo++;
    if (start === end) {
      // Blank line: ends the logical line and the record.
      this.flushLogical();
      this.endRecord();
      return;
    }
    const first = text.charCodeAt(start);
    if (first === SPACE) {
      if (this.pendingLine === 0) {
        throw this.error(
          line,
          'a continuation line (starting with a space) follows no line to continue',
          'remove the leading space, or join it to the line above',
        );
      }
      if (this.pendingIgnored) return;
      if (this.pendingParts === undefined) {
        this.pendingParts = [this.pendingText.slice(this.pendingStart, this.pendingEnd)];
      }
      this.pendingParts.push(text.slice(start + 1, end));
      return;
    }
    this.flushLogical();
    this.pendingLine = line;
    // Comments and the lines of a skipped record are counted but never decoded.
    this.pendingIgnored = first === HASH || this.skipping;
    this.pendingText = text;
    this.pendingStart = start;
    this.pendingEnd = end;
  }

  private flushLogical(): void {
    const line = this.pendingLine;
    if (line === 0) return;
    this.pendingLine = 0;
    const parts = this.pendingParts;
    const text = this.pendingText;
    this.pendingText = '';
    if (this.pendingIgnored) {
      this.pendingParts = undefined;
      return;
    }
    if (parts === undefined) {
      this.logicalLine(text, this.pendingStart, this.pendingEnd, line);
    } else {
      this.pendingParts = undefined;
      const joined = parts.join('');
      this.logicalLine(joined, 0, joined.length, line);
    }
  }

  private logicalLine(text: string, start: number, n: number, line: number): void {
    const colon = text.indexOf(':', start);
    if (colon <= start || colon >= n) {
      throw this.error(
        line,
        `expected "attribute: value", got "${preview(text.slice(start, n))}"`,
        'every line of a record is "name: value", "name:: base64" or a continuation starting with one space',
      );
    }
    // Value start and kind: ':' plain, '::' base64, ':<' URL.
    let p = colon + 1;
    let kind = 0; // 0 plain, 1 base64, 2 url
    if (p < n) {
      const c = text.charCodeAt(p);
      if (c === COLON) {
        kind = 1;
        p++;
      } else if (c === LT) {
        kind = 2;
        p++;
      }
    }
    while (p < n && text.charCodeAt(p) === SPACE) p++;

    if (!this.inRecord) {
      const rawName = text.slice(start, colon);
      const lname = rawName.toLowerCase();
      if (lname === 'dn') {
        this.startRecord(this.decodeText(text, p, n, kind, line, 'dn'), line);
        return;
      }
      if (lname === 'version' && !this.sawAnyLine) {
        this.sawAnyLine = true;
        const v = text.slice(p, n).trim();
        if (v !== '1') throw this.error(line, `unsupported LDIF version "${v}"`, 'only "version: 1" (RFC 2849) exists');
        return;
      }
      if (lname === 'search' || (this.inTrailer && lname === 'result')) {
        // ldapsearch without -LLL ends with "search: N" / "result: 0 Success": not an entry.
        this.inTrailer = true;
        return;
      }
      throw this.error(
        line,
        `a record must start with "dn:", got "${rawName}:"`,
        'separate records with a blank line; each begins with its "dn:" line',
      );
    }

    // Predict the attribute from the previous one; only a miss pays for a name string and a map lookup.
    let info = this.prev.next;
    if (info === undefined || text.charCodeAt(start + info.raw.length) !== COLON || !text.startsWith(info.raw, start)) {
      const rawName = text.slice(start, colon);
      info = this.attrCache.get(rawName) ?? this.attrInfo(rawName, line);
      this.prev.next = info;
    }
    this.prev = info;
    if (info.name === 'changetype') {
      const ct = text.slice(p, n).trim().toLowerCase();
      if (this.sawAttribute || this.afterChangetype) {
        throw this.error(
          line,
          '"changetype:" must directly follow the "dn:" line',
          'move it up to the line after "dn:"',
        );
      }
      if (ct !== 'add') {
        throw this.error(
          line,
          `"changetype: ${ct}" is not an export`,
          'adsync reads exports of entries (ldifde -f, ldapsearch -LLL): records with no changetype or "changetype: add"',
        );
      }
      this.afterChangetype = true;
      return;
    }
    if (info.name === 'control') {
      throw this.error(
        line,
        'LDIF controls are not supported',
        'adsync reads exports of entries (ldifde -f, ldapsearch -LLL), not change files',
      );
    }
    this.sawAttribute = true;
    if (info.refuse !== undefined) {
      throw this.error(
        line,
        `"${info.raw}" holds only part of the values (${info.refuse})`,
        'export with ldifde, which fetches every value of large multi-valued attributes, or with a client that follows range retrieval',
      );
    }
    if (kind === 2) {
      throw this.error(
        line,
        `"${info.raw}:<" (a value by URL) is not supported`,
        'export the value inline ("name:: base64"); ldifde and ldapsearch do so by default',
      );
    }
    if (!info.accepted) return;
    let value: AttrValue;
    if (info.guid) {
      value = this.decodeGuid(text, p, n, kind, line, info.raw);
    } else if (kind === 1) {
      const bytes = this.decodeBase64(text, p, n, line, info.raw);
      if (!info.binary && !isUtf8(bytes))
        throw this.error(line, `the value of "${info.raw}::" is not UTF-8 text`, UTF8_HINT);
      value = info.binary ? bytes : utf8(bytes, 0, bytes.length);
    } else if (info.binary) {
      value = Buffer.from(text.slice(p, n), 'latin1');
    } else {
      value = this.decodePlain(text, p, n, line, info.raw);
    }
    if (typeof value === 'string') {
      // distinguishedName repeats the record's own DN
      if (info.dn) value = value === this.currentDn ? this.currentDn : this.sharedDn(value);
      else value = this.sharedValue(info.slot, value);
    }
    const list = this.values[info.slot];
    if (info.guid && list !== undefined) {
      throw this.error(
        line,
        `"${info.raw}" appears twice in the record of ${this.currentDn}`,
        'an object has one GUID: remove the extra line',
      );
    }
    if (list === undefined) {
      this.values[info.slot] = [value];
      this.order.push(info.slot);
    } else {
      list.push(value);
    }
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
      throw this.error(
        line,
        `"${rawName}" is not an attribute name`,
        'attribute names are letters, digits and hyphens (or an OID), followed by ":"',
      );
    }
    let slot = this.slotByName.get(name);
    if (slot === undefined) {
      slot = this.slotNames.length;
      this.slotNames.push(name);
      this.slotByName.set(name, slot);
      this.values.push(undefined);
    }
    const info: AttrInfo = {
      raw: rawName,
      name,
      slot,
      next: undefined,
      binary: BINARY_ATTRIBUTES.has(name),
      guid: GUID_ATTRIBUTES.has(name),
      dn: DN_ATTRIBUTES.has(name),
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
    this.sawAttribute = false;
    this.prev = this.start;
    if (this.acceptDn !== undefined && !this.acceptDn(dn, line)) {
      this.skipping = true;
      return;
    }
    this.currentDn = this.sharedDn(dn);
    this.currentLine = line;
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
    const attrs: Record<string, AttrValue[]> = {};
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const slot = order[i]!;
      const list = this.values[slot]!;
      // A grown list keeps up to half its length spare: a copy has exactly its values.
      attrs[this.slotNames[slot]!] = list.length > 1 ? list.slice() : list;
      this.values[slot] = undefined;
    }
    order.length = 0;
    const dn = this.currentDn;
    this.currentDn = '';
    this.onRecord({ dn, line: this.currentLine, attrs });
  }

  private sharedDn(dn: string): string {
    const known = this.dns.get(dn);
    if (known !== undefined) return known;
    this.dns.set(dn, dn);
    return dn;
  }

  private sharedValue(slot: number, value: string): string {
    let share = this.shared[slot];
    if (share === null) return value;
    if (share === undefined) this.shared[slot] = share = { values: new Map(), seen: 0 };
    share.seen++;
    const known = share.values.get(value);
    if (known !== undefined) return known;
    if (share.seen > SHARE_PROBE && share.values.size * SHARE_RATIO > share.seen) {
      this.shared[slot] = null; // names, addresses, ids: nothing to share
      return value;
    }
    share.values.set(value, value);
    return value;
  }

  private decodeText(text: string, p: number, n: number, kind: number, line: number, name: string): string {
    if (kind === 2) throw this.error(line, `"${name}:<" (a value by URL) is not supported`, 'write the DN inline');
    if (kind === 1) {
      const bytes = this.decodeBase64(text, p, n, line, name);
      if (!isUtf8(bytes)) throw this.error(line, `the value of "${name}::" is not UTF-8 text`, UTF8_HINT);
      return bytes.toString('utf8');
    }
    return this.decodePlain(text, p, n, line, name);
  }

  /**
   * An anchor: base64 of 16 bytes. An empty one would anchor nothing (the object would look cloud-only next
   * time), a short or long one, or GUID text, would become an anchor Entra Connect never computes.
   */
  private decodeGuid(text: string, p: number, n: number, kind: number, line: number, name: string): Buffer {
    if (kind === 0) {
      const shown = preview(text.slice(p, n));
      throw this.error(
        line,
        shown === ''
          ? `"${name}:" is empty`
          : `"${name}: ${shown}" is text; a GUID is exported as base64 of its 16 bytes ("${name}:: …")`,
        'export the GUID as binary, as ldifde and ldapsearch do ("objectGUID:: base64"), or leave the line out',
      );
    }
    const bytes = this.decodeBase64(text, p, n, line, name);
    if (bytes.length === 0)
      throw this.error(
        line,
        `"${name}::" is empty`,
        'export the GUID as base64 of its 16 bytes, or leave the line out',
      );
    if (bytes.length !== GUID_BYTES) {
      throw this.error(
        line,
        `"${name}::" holds ${bytes.length} byte${bytes.length === 1 ? '' : 's'}; a GUID is ${GUID_BYTES}`,
        'the export is damaged or was edited: re-export the object, or leave the line out',
      );
    }
    return bytes;
  }

  /** A plain value as UTF-8: from the chunk's bytes when the text is the chunk's, else re-encoded. */
  private decodePlain(text: string, p: number, n: number, line: number, name: string): string {
    if (text === this.bytesText) {
      // V8 copies short slices (no view into the chunk), and an ASCII slice of the latin1 text is the value:
      // cheaper than a call into the UTF-8 decoder for the many short values (flags, names, titles).
      if (n - p < 13) {
        let ascii = true;
        for (let i = p; i < n; i++) if (text.charCodeAt(i) > 127) ascii = false;
        if (ascii) return text.slice(p, n);
      }
      if (!isUtf8(this.bytes!.subarray(p, n)))
        throw this.error(line, `the value of "${name}:" is not UTF-8 text`, UTF8_HINT);
      return utf8(this.bytes!, p, n);
    }
    // A folded or carried-over line: re-encode, which also gives the value its own storage.
    const b = Buffer.from(text.slice(p, n), 'latin1');
    if (!isUtf8(b)) throw this.error(line, `the value of "${name}:" is not UTF-8 text`, UTF8_HINT);
    return utf8(b, 0, b.length);
  }

  private decodeBase64(text: string, p: number, n: number, line: number, name: string): Buffer {
    let b64 = text.slice(p, n);
    if (b64.includes(' ')) b64 = b64.replace(/ /g, '');
    // Node's decoder skips characters outside the alphabet, so a short result means a malformed value.
    const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    const bytes = b64.length % 4 === 0 ? Buffer.from(b64, 'base64') : undefined;
    if (bytes === undefined || bytes.length !== (b64.length / 4) * 3 - pad) {
      throw this.error(
        line,
        `the base64 value of "${name}::" is malformed`,
        'a "::" value must be base64 (RFC 4648) of the value\'s bytes',
      );
    }
    return bytes;
  }

  private error(line: number, message: string, hint: string): SourceError {
    return new SourceError('ldif_syntax', `${this.file}:${line}: ${message}`, { hint });
  }
}

type FastSlices = { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string };
const fast = typeof (Buffer.prototype as unknown as Partial<FastSlices>).utf8Slice === 'function';

/** Buffer's native slicers, skipping toString's dispatch (4 million calls per large export). */
function latin1(b: Buffer, start: number, end: number): string {
  return fast ? (b as unknown as FastSlices).latin1Slice(start, end) : b.toString('latin1', start, end);
}
function utf8(b: Buffer, start: number, end: number): string {
  return fast ? (b as unknown as FastSlices).utf8Slice(start, end) : b.toString('utf8', start, end);
}

function preview(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Parses LDIF held in memory (tests, small files). */
export function parseLdif(text: string | Uint8Array, options: LdifParseOptions = {}): LdifRecord[] {
  const records: LdifRecord[] = [];
  const parser = new LdifParser((r) => records.push(r), options);
  parser.push(
    typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength),
  );
  parser.end();
  return records;
}

/**
 * How big a read is: large enough to amortise the calls, small enough that each chunk's text is an ordinary
 * young-generation string (1 MiB strings go to large-object space and linger until a full GC).
 */
const CHUNK = 1 << 16;

/**
 * Streams an LDIF file through the parser, once, in 1 MiB reads. A missing or unreadable file is one
 * SourceError (`ldif_not_found`, `ldif_unreadable`) with a hint.
 */
export async function parseLdifFile(
  path: string,
  onRecord: (record: LdifRecord) => void,
  options: LdifParseOptions = {},
): Promise<void> {
  const { open } = await import('node:fs/promises');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SourceError('ldif_not_found', `LDIF file not found: ${path}`, {
        hint: "check the source's ldif.path (relative paths are relative to the spec file)",
      });
    }
    throw new SourceError('ldif_unreadable', `cannot read LDIF file ${path}: ${(err as Error).message}`, {
      hint: 'check the path and its permissions',
      cause: err,
    });
  }
  try {
    const parser = new LdifParser(onRecord, { ...options, file: options.file ?? path });
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      let r;
      try {
        r = await fh.read(chunk, 0, CHUNK, null);
      } catch (err) {
        throw new SourceError('ldif_unreadable', `cannot read LDIF file ${path}: ${(err as Error).message}`, {
          hint: 'check that the path is a readable file',
          cause: err,
        });
      }
      if (r.bytesRead === 0) break;
      const bytes = r.bytesRead === CHUNK ? chunk : chunk.subarray(0, r.bytesRead);
      options.onBytes?.(bytes);
      parser.push(bytes);
    }
    parser.end();
  } finally {
    await fh.close();
  }
}
