/**
 * The record index of an LDIF export (src/connectors/ldif/records.ts) against an independent oracle: the text
 * split into lines and blank-line-separated blocks, written here without the scanner's code. Random exports
 * (comments, folded and base64 `dn:` lines, CRLF, several blank lines, a version header, no final newline),
 * scanned in random chunk sizes: the same records, keys, digests, spans and frame as the oracle, as many
 * records as the parser reads, whatever the chunking.
 *
 *   ADSYNC_RECORDS_SEED=<n> ADSYNC_RECORDS_RUNS=<n> npx node --test dist/test/connectors/ldif/records.test.js
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { it } from 'node:test';
import fc from 'fast-check';
import { LdifRecordScanner, type LdifRecordIndex } from '../../../src/connectors/ldif/records.js';
import { parseLdif } from '../../../src/connectors/ldif/parser.js';

const SEED = Number(process.env.ADSYNC_RECORDS_SEED ?? 20261202);
const RUNS = Number(process.env.ADSYNC_RECORDS_RUNS ?? 300);

/** The oracle: lines (with their endings), blocks between empty lines, each block's first content line. */
function oracle(text: Buffer): {
  records: { bytes: Buffer; key: Buffer; start: number; end: number }[];
  frame: string;
} {
  const lines: { start: number; end: number; content: string }[] = [];
  let p = 0;
  while (p < text.length) {
    const nl = text.indexOf(10, p);
    const end = nl === -1 ? text.length : nl + 1;
    const content = text.toString('latin1', p, end).replace(/\r?\n$/, '');
    lines.push({ start: p, end, content });
    p = end;
  }
  const blocks: (typeof lines)[] = [];
  let current: typeof lines = [];
  for (const l of lines) {
    if (l.content === '') {
      if (current.length > 0) blocks.push(current);
      current = [];
    } else current.push(l);
  }
  if (current.length > 0) blocks.push(current);
  const records: { bytes: Buffer; key: Buffer; start: number; end: number }[] = [];
  const frame = createHash('sha256');
  for (const block of blocks) {
    const start = block[0]!.start;
    const end = block[block.length - 1]!.end;
    const bytes = text.subarray(start, end);
    let i = 0;
    // comments, with their continuation lines
    while (i < block.length && block[i]!.content.startsWith('#')) {
      i++;
      while (i < block.length && block[i]!.content.startsWith(' ')) i++;
    }
    let key: Buffer | undefined;
    if (i < block.length && block[i]!.content.startsWith('dn:')) {
      let j = i + 1;
      while (j < block.length && block[j]!.content.startsWith(' ')) j++;
      key = Buffer.from(text.toString('latin1', block[i]!.start, block[j - 1]!.end).replace(/\r?\n$/, ''), 'latin1');
    }
    const digest = createHash('sha256').update(bytes).digest();
    if (key === undefined) frame.update(`${records.length}:`).update(digest);
    else records.push({ bytes, key, start, end });
  }
  return { records, frame: frame.digest('hex') };
}

function scan(text: Buffer, cuts: readonly number[]): LdifRecordIndex {
  const scanner = new LdifRecordScanner({ spans: true });
  let p = 0;
  for (const size of cuts) {
    if (p >= text.length) break;
    // A copy that is overwritten afterwards: the scanner must not keep the caller's chunk.
    const chunk = Buffer.from(text.subarray(p, p + size));
    scanner.push(chunk);
    chunk.fill(0x58);
    p += size;
  }
  if (p < text.length) scanner.push(Buffer.from(text.subarray(p)));
  return scanner.end();
}

const value = fc.stringMatching(/^[A-Za-z0-9 =,.@-]{0,40}$/).map((v) => v.trim() || 'x');
const dnLine = fc.oneof(
  value.map((v) => `dn: CN=${v},DC=contoso,DC=example`),
  value.map((v) => `dn:: ${Buffer.from(`CN=${v} é,DC=contoso,DC=example`).toString('base64')}`),
);
/** Folds a line at `width` (continuation lines start with one space), as ldifde does at 76. */
const fold = (line: string, width: number): string[] => {
  if (line.length <= width) return [line];
  const out = [line.slice(0, width)];
  for (let i = width; i < line.length; i += width - 1) out.push(` ${line.slice(i, i + width - 1)}`);
  return out;
};
const block = fc.record({
  comments: fc.array(
    value.map((v) => `# ${v}`),
    { maxLength: 2 },
  ),
  dn: fc.option(dnLine, { nil: undefined }),
  attrs: fc.array(
    fc.tuple(fc.constantFrom('cn', 'title', 'member', 'description'), value).map(([a, v]) => `${a}: ${v}`),
    { maxLength: 6 },
  ),
  width: fc.integer({ min: 12, max: 80 }),
});
const exportArb = fc.record({
  version: fc.boolean(),
  leading: fc.nat(2),
  blocks: fc.array(block, { maxLength: 12 }),
  separators: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 }),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
  cuts: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 400 }),
});

it(`the record index agrees with an independent split, whatever the chunks (${RUNS} exports, seed ${SEED})`, () => {
  fc.assert(
    fc.property(exportArb, (e) => {
      const eol = e.crlf ? '\r\n' : '\n';
      const parts: string[] = [];
      for (let i = 0; i < e.leading; i++) parts.push('');
      const blocks: string[][] = [];
      if (e.version) blocks.push(['version: 1']);
      for (const b of e.blocks) {
        const lines = [...b.comments.flatMap((c) => fold(c, b.width))];
        if (b.dn !== undefined) lines.push(...fold(b.dn, b.width), ...b.attrs.flatMap((a) => fold(a, b.width)));
        else if (lines.length === 0) lines.push('# only a comment');
        blocks.push(lines);
      }
      blocks.forEach((lines, i) => {
        parts.push(...lines);
        if (i < blocks.length - 1) for (let k = 0; k < e.separators[i % 12]!; k++) parts.push('');
      });
      let text = parts.join(eol);
      if (e.finalNewline) text += eol;
      const bytes = Buffer.from(text, 'utf8');

      const want = oracle(bytes);
      const got = scan(bytes, e.cuts);
      const whole = scan(bytes, []);
      assert.equal(got.count, want.records.length);
      assert.equal(got.frame, want.frame);
      const digests = Buffer.concat(
        want.records.map((r) => createHash('sha256').update(r.bytes).digest().subarray(0, 16)),
      );
      assert.ok(got.digests.equals(digests), 'record digests');
      const keys = Buffer.concat(
        want.records.map((r) => {
          const k = Buffer.alloc(8);
          k.writeUInt32BE(crc32(r.key), 0);
          k.writeUInt32BE(r.key.length, 4);
          return k;
        }),
      );
      assert.ok(got.keys.equals(keys), 'record keys');
      assert.deepEqual(
        got.spans,
        want.records.flatMap((r) => [r.start, r.end]),
      );
      assert.deepEqual(
        got.dnLines,
        want.records.map((r) => r.key.toString('latin1')),
      );
      // Chunking changes nothing; and the parser reads as many records (one per `dn:` block).
      assert.deepEqual({ ...got }, { ...whole });
      const parsed = parseLdif(bytes);
      assert.equal(parsed.length, got.count);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});
