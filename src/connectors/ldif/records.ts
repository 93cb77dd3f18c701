/**
 * The records of an LDIF export, told apart without parsing them: each block of lines between blank lines
 * (RFC 2849's record separator, as the parser reads it) gets the digest of its bytes and a key from its `dn:`
 * line. Two exports whose records have the same keys in the same order differ only inside the records whose
 * digests differ: the stored plan can then be patched for those (src/sync/local-edits.ts) instead of parsing
 * and planning a 150 MiB export again.
 *
 * One pass over the bytes as they are read (the same chunks the parser gets); blank lines are found with
 * Buffer.indexOf, so the cost is two native searches per record, not a loop over every byte. Blocks without a
 * `dn:` line (`version: 1`, comments, ldapsearch's trailer) make up the export's frame: any change there and
 * the index says nothing about what changed.
 */
import { createHash, hash as digestOf, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { open } from 'node:fs/promises';

/**
 * Bytes of each record's key and of its content digest. The key (CRC-32 and length of the raw `dn:` line)
 * only tells whether the records are the same ones in the same order; the content digest (sha256, 16 bytes)
 * covers the `dn:` line too, so a key that collides still shows as an edit of that record (whose DN the
 * patch then finds changed: refused).
 */
export const KEY_BYTES = 8;
export const DIGEST_BYTES = 16;

export interface LdifRecordIndex {
  /** `sha256:` of the keys, the content digests and the frame: the export's content digest. */
  digest: string;
  /** Records (blocks with a `dn:` line), in file order. */
  count: number;
  /** KEY_BYTES per record: CRC-32 and length of the raw `dn:` logical line (a renamed record has another key). */
  keys: Buffer;
  /** DIGEST_BYTES per record: sha256 of the record's bytes, cut to 16 bytes. */
  digests: Buffer;
  /** Digest of the blocks that are not records, with where they stand among the records. */
  frame: string;
  /** With `spans`: each record's [start, end) byte offsets in the file, two numbers per record. */
  spans?: number[];
  /** With `spans`: each record's raw `dn:` logical line (latin1, folding as in the file). */
  dnLines?: string[];
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const HASH = 35;
/** A key line longer than this (folded) is keyed by its first bytes; its content digest still covers it all. */
const MAX_KEY_LINE = 16 * 1024;

/** A growable byte array (one allocation per doubling, not one per record). */
class Bytes {
  buf = Buffer.alloc(1 << 16);
  length = 0;
  reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/**
 * A push scanner: feed it the file's chunks in order (`push`; the chunk may be reused after the call), then
 * `end()` for the index. A record's digest depends on its bytes only, never on where the chunks were cut.
 */
export class LdifRecordScanner {
  private base = 0; // absolute offset of the next chunk's first byte
  private tail: Buffer = Buffer.alloc(0); // bytes not yet hashed: they may begin a separator
  private open = false;
  private start = 0; // absolute offset of the open block
  private hash: Hash | undefined; // for a block that goes on past its chunk
  private head: Buffer[] = []; // the open block's first bytes (copied) while its key line is unknown
  private headBytes = 0;
  private keyed = false;
  private key: Buffer | undefined; // the open block's raw dn line (undefined: a frame block)
  private count = 0;
  private readonly keys = new Bytes();
  private readonly digests = new Bytes();
  private readonly frame = createHash('sha256');
  private readonly spans: number[] | undefined;
  private readonly dnLines: string[] | undefined;

  constructor(options: { spans?: boolean } = {}) {
    if (options.spans === true) {
      this.spans = [];
      this.dnLines = [];
    }
  }

  push(chunk: Buffer): void {
    const buf = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const base = this.base - this.tail.length;
    this.base += chunk.length;
    this.tail = Buffer.alloc(0);
    this.scan(buf, base, false);
  }

  end(): LdifRecordIndex {
    const buf = this.tail;
    this.tail = Buffer.alloc(0);
    this.scan(buf, this.base - buf.length, true);
    if (this.open) this.close(buf, buf.length, buf.length, this.base);
    const keys = this.keys.done();
    const digests = this.digests.done();
    const frame = this.frame.digest('hex');
    const digest = createHash('sha256').update(keys).update(digests).update(frame).digest('hex');
    return {
      digest: `sha256:${digest}`,
      count: this.count,
      keys,
      digests,
      frame,
      ...(this.spans !== undefined ? { spans: this.spans, dnLines: this.dnLines! } : {}),
    };
  }

  private scan(buf: Buffer, base: number, last: boolean): void {
    const len = buf.length;
    let i = 0;
    let from = 0; // where the open block's unhashed bytes begin in buf
    let lf2 = -2; // the next "\n\n" at or after i (-1: none left in buf)
    let crlf2 = -2; // the next "\n\r\n"
    while (i < len) {
      if (!this.open) {
        // Blank lines between records (a lone CR at the end may be half of one).
        if (buf[i] === LF) {
          i++;
          continue;
        }
        if (buf[i] === CR) {
          if (i + 1 >= len && !last) break;
          if (buf[i + 1] === LF) {
            i += 2;
            continue;
          }
        }
        this.begin(base + i);
        from = i;
      }
      if (lf2 !== -1 && lf2 < i) lf2 = buf.indexOf('\n\n', i);
      if (crlf2 !== -1 && crlf2 < i) crlf2 = buf.indexOf('\n\r\n', i);
      const e = lf2 === -1 ? crlf2 : crlf2 === -1 ? lf2 : Math.min(lf2, crlf2);
      if (e === -1) {
        // The block goes on in the next chunk; a trailing "\n" or "\n\r" may begin its separator.
        let keep = 0;
        if (!last) {
          if (buf[len - 1] === LF) keep = 1;
          else if (len >= 2 && buf[len - 1] === CR && buf[len - 2] === LF) keep = 2;
        }
        const upTo = Math.max(from, len - keep);
        (this.hash ??= createHash('sha256')).update(buf.subarray(from, upTo));
        if (!this.keyed) this.collectHead(buf.subarray(from, upTo));
        this.tail = Buffer.from(buf.subarray(upTo));
        return;
      }
      this.close(buf, from, e + 1, base + e + 1);
      i = e + 1;
    }
    // Between blocks: a lone CR left over is carried.
    if (!this.open && i < len) this.tail = Buffer.from(buf.subarray(i));
  }

  private begin(at: number): void {
    this.open = true;
    this.start = at;
    this.hash = undefined;
    this.head = [];
    this.headBytes = 0;
    this.keyed = false;
    this.key = undefined;
  }

  /** A part of the open block that goes on past this chunk: kept (up to the limit) until its key is known. */
  private collectHead(part: Buffer): void {
    if (this.headBytes < MAX_KEY_LINE) {
      const take = part.subarray(0, MAX_KEY_LINE - this.headBytes);
      this.head.push(Buffer.from(take));
      this.headBytes += take.length;
    }
    const head = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
    this.head = [head];
    const key = keyLine(head, this.headBytes >= MAX_KEY_LINE);
    if (key !== 'more') this.setKey(key);
  }

  private setKey(line: Buffer | undefined): void {
    this.keyed = true;
    this.head = [];
    this.key = line;
  }

  private close(buf: Buffer, from: number, endRel: number, endAbs: number): void {
    const last = buf.subarray(from, endRel);
    if (!this.keyed) {
      const key = keyLine(this.head.length === 0 ? last : Buffer.concat([...this.head, last]), true);
      this.setKey(key === 'more' ? undefined : key);
    }
    const digest = this.hash === undefined ? digestOf('sha256', last, 'buffer') : this.hash.update(last).digest();
    if (this.key === undefined) {
      // A frame block: where it stands among the records, and its bytes.
      this.frame.update(`${this.count}:`).update(digest);
    } else {
      const k = this.keys.reserve(KEY_BYTES);
      this.keys.buf.writeUInt32BE(crc32(this.key), k);
      this.keys.buf.writeUInt32BE(this.key.length, k + 4);
      digest.copy(this.digests.buf, this.digests.reserve(DIGEST_BYTES), 0, DIGEST_BYTES);
      this.count++;
      if (this.spans !== undefined) {
        this.spans.push(this.start, endAbs);
        this.dnLines!.push(this.key.toString('latin1'));
      }
    }
    this.open = false;
    this.hash = undefined;
    this.head = [];
    this.key = undefined;
  }
}

/**
 * A block's key line: its first line that is not a comment, with its continuation lines, without the line
 * ending; undefined when that line is not `dn:` (a frame block); 'more' when `head` ends before it does
 * (`final`: no more bytes will come, or no more are looked at).
 */
function keyLine(head: Buffer, final: boolean): Buffer | undefined | 'more' {
  let p = 0;
  // Comment lines and their continuations.
  while (p < head.length && head[p] === HASH) {
    for (;;) {
      const nl = head.indexOf(LF, p);
      if (nl === -1 || nl + 1 >= head.length) return final ? undefined : 'more';
      p = nl + 1;
      if (head[p] !== SPACE) break;
    }
  }
  if (p >= head.length) return final ? undefined : 'more';
  if (!(head[p] === 100 && head[p + 1] === 110 && head[p + 2] === 58)) {
    return head.length - p < 3 && !final ? 'more' : undefined;
  }
  let q = p;
  for (;;) {
    const nl = head.indexOf(LF, q);
    if (nl === -1) return final ? trimEnd(head.subarray(p)) : 'more';
    if (nl + 1 >= head.length && !final) return 'more';
    if (head[nl + 1] !== SPACE) return trimEnd(head.subarray(p, nl));
    q = nl + 1;
  }
}

function trimEnd(line: Buffer): Buffer {
  let e = line.length;
  while (e > 0 && (line[e - 1] === LF || line[e - 1] === CR)) e--;
  return line.subarray(0, e);
}

/**
 * Scans a file: its record index (with spans and dn lines when asked: what a patch reads), or undefined when
 * the file can't be read (the full read then says why).
 */
export async function scanLdifFile(
  path: string,
  options: { spans?: boolean } = {},
): Promise<LdifRecordIndex | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const scanner = new LdifRecordScanner(options);
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const r = await fh.read(chunk, 0, chunk.length, null);
      if (r.bytesRead === 0) break;
      scanner.push(chunk.subarray(0, r.bytesRead));
    }
    return scanner.end();
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The bytes of some records of a file, by their spans (each a record as the file has it). */
export async function readSpans(path: string, spans: readonly [number, number][]): Promise<Buffer[]> {
  const fh = await open(path, 'r');
  try {
    const out: Buffer[] = [];
    for (const [start, end] of spans) {
      const b = Buffer.alloc(end - start);
      await fh.read(b, 0, b.length, start);
      out.push(b);
    }
    return out;
  } finally {
    await fh.close();
  }
}
