/**
 * Fuzz tests (fast-check) of the two readers of user input: the LDIF source and the spec loader. Random bytes
 * and mutations of the shipped files (examples/quickstart/corp.ldif, examples/*\/adsync.yaml) must give a valid
 * result or a typed error with a position (`FILE:LINE` for LDIF, `FILE:LINE:COL` for specs) — never another
 * exception (a crash) or a hang (node:test's timeout).
 *
 * Fixed seed; ADSYNC_FUZZ_RUNS and ADSYNC_FUZZ_SEED run more (or other) cases, e.g.
 *   ADSYNC_FUZZ_RUNS=20000 npx node --test dist/test/spec/fuzz.test.js
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { LdifSource } from '../../src/connectors/ldif/index.js';
import { parseLdif } from '../../src/connectors/ldif/parser.js';
import { AdsyncError, SourceError, SpecError } from '../../src/errors.js';
import { checkSpecText, parseSpec } from '../../src/spec/load.js';

const RUNS = Number(process.env['ADSYNC_FUZZ_RUNS'] ?? 300);
const SEED = Number(process.env['ADSYNC_FUZZ_SEED'] ?? 17);
const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const CORP_LDIF = readFileSync(join(EXAMPLES, 'quickstart', 'corp.ldif'));
const SPECS = readdirSync(EXAMPLES)
  .filter((d) => existsSync(join(EXAMPLES, d, 'adsync.yaml')))
  .map((d) => readFileSync(join(EXAMPLES, d, 'adsync.yaml')));

type Edit = {
  kind: 'delete' | 'insert' | 'replace' | 'duplicate-line' | 'flip';
  at: number;
  len: number;
  bytes: Uint8Array;
};

/** A few edits of a valid file: deletions, insertions and replacements of random bytes, repeated lines, flipped bits. */
const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate-line', 'flip'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  bytes: fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 12 }),
    // the syntax characters of both formats are the interesting bytes
    fc
      .array(fc.constantFrom(...':: \n\n -#,=\\"\'{}[]&*!|>%@\t\r\x00\xff\xc3'.split('')), {
        minLength: 1,
        maxLength: 8,
      })
      .map((cs) => Buffer.from(cs.join(''), 'latin1')),
  ),
});

function mutate(base: Buffer, edits: Edit[]): Buffer {
  let b = base;
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    switch (e.kind) {
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'replace':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at + e.bytes.length)]);
        break;
      case 'duplicate-line': {
        const start = b.lastIndexOf(10, at) + 1;
        const end = b.indexOf(10, at);
        const line = b.subarray(start, end === -1 ? b.length : end + 1);
        b = Buffer.concat([b.subarray(0, start), line, b.subarray(start)]);
        break;
      }
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[at] = b[at]! ^ (1 << (e.len % 8));
        }
        break;
    }
  }
  return b;
}

const mutated = (bases: Buffer[]) =>
  fc.tuple(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 6 })).map(([b, es]) => mutate(b, es));
const randomBytes = fc.uint8Array({ maxLength: 2000 }).map((u) => Buffer.from(u));
const randomText = fc.string({ unit: 'binary', maxLength: 600 }).map((s) => Buffer.from(s, 'utf8'));

describe('fuzz: the LDIF source', () => {
  let dir: string;
  let n = 0;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'adsync-fuzz-ldif-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Reads bytes as the quickstart's source would: a snapshot, or a SourceError at `FILE:LINE`. */
  async function readOrPositionedError(bytes: Buffer): Promise<void> {
    const file = join(dir, `f${n++}.ldif`);
    await writeFile(file, bytes);
    const source = new LdifSource({ name: 'contoso', path: file });
    try {
      const snap = await source.read({ attributes: [], baseDns: ['DC=contoso,DC=example'] });
      assert.ok(Array.isArray(snap.entries));
      for (const e of snap.entries) assert.equal(typeof e.dn, 'string');
    } catch (err) {
      if (!(err instanceof SourceError)) throw new Error(`not a SourceError: ${(err as Error)?.stack ?? String(err)}`);
      assert.ok(err.message.startsWith(`${file}:`), `no FILE:LINE in: ${err.message}`);
      assert.match(err.message.slice(file.length), /^:\d+: /, err.message);
      assert.ok(err.hint, `no hint: ${err.message}`);
    } finally {
      await rm(file, { force: true });
    }
  }

  it('the shipped export reads', async () => {
    const snap = await new LdifSource({ name: 'contoso', path: join(EXAMPLES, 'quickstart', 'corp.ldif') }).read({
      attributes: [],
      baseDns: [],
    });
    assert.equal(snap.entries.length, 24);
  });

  it('mutations of the quickstart export', async () => {
    await fc.assert(fc.asyncProperty(mutated([CORP_LDIF]), readOrPositionedError), { seed: SEED, numRuns: RUNS });
  });

  it('random bytes and random text', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(randomBytes, randomText), readOrPositionedError), {
      seed: SEED,
      numRuns: RUNS,
    });
  });

  it('the parser fed in chunks of any size gives what it gives in one piece', () => {
    fc.assert(
      fc.property(mutated([CORP_LDIF]), fc.integer({ min: 1, max: 64 }), (bytes, size) => {
        const whole = outcome(() => parseLdif(bytes, { file: 'x.ldif' }));
        const records: unknown[] = [];
        const chunked = outcome(() => {
          const { LdifParser } = parserModule;
          const p = new LdifParser((r) => records.push(r), { file: 'x.ldif' });
          for (let i = 0; i < bytes.length; i += size) p.push(bytes.subarray(i, i + size));
          p.end();
          return records;
        });
        assert.deepEqual(chunked, whole);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

import * as parserModule from '../../src/connectors/ldif/parser.js';

/** `doc` with the value at a path of child indexes (each taken modulo the children there) replaced. */
function replaceAt(doc: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== 'object') return value;
  const keys = Object.keys(doc);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  (doc as Record<string, unknown>)[k] = replaceAt((doc as Record<string, unknown>)[k], path.slice(1), value);
  return doc;
}

/** A parse's records, or its error message; anything but a SourceError is a crash. */
function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    return `error ${err.message}`;
  }
}

describe('fuzz: the spec loader', () => {
  /** Loads text as `adsync validate` would: a spec, or a SpecError whose every problem has FILE:LINE:COL. */
  function loadOrPositionedProblems(bytes: Buffer): void {
    const text = bytes.toString('utf8');
    try {
      parseSpec(text, 'fuzz.yaml');
    } catch (err) {
      if (!(err instanceof AdsyncError)) throw new Error(`not an AdsyncError: ${(err as Error)?.stack ?? String(err)}`);
      assert.ok(err instanceof SpecError, `expected a SpecError, got ${err.code}: ${err.message}`);
      assert.ok(err.problems.length > 0);
      const lines = text.split(/\r\n|\r|\n/).length;
      for (const p of err.problems) {
        assert.equal(p.file, 'fuzz.yaml');
        assert.ok(
          Number.isInteger(p.line) && p.line >= 1 && p.line <= lines + 1,
          `line ${p.line} of ${lines}: ${p.message}`,
        );
        assert.ok(Number.isInteger(p.col) && p.col >= 1, `col ${p.col}: ${p.message}`);
        assert.ok(p.message.length > 0 && !p.message.includes('\n    at '), p.message);
      }
    }
  }

  it('the shipped specs load', () => {
    for (const s of SPECS) assert.deepEqual(checkSpecText(s.toString('utf8'), 'x.yaml').problems, []);
  });

  it('mutations of the shipped specs', () => {
    fc.assert(fc.property(mutated(SPECS), loadOrPositionedProblems), { seed: SEED, numRuns: RUNS });
  });

  it('random bytes and random text', () => {
    fc.assert(fc.property(fc.oneof(randomBytes, randomText), loadOrPositionedProblems), { seed: SEED, numRuns: RUNS });
  });

  it('the shipped specs with one value somewhere replaced by a random one (every rule sees every shape)', () => {
    const docs = SPECS.map((b) => parseYaml(b.toString('utf8')) as unknown);
    fc.assert(
      fc.property(
        fc.constantFrom(...docs),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.jsonValue({ maxDepth: 3 }),
        (doc, path, value) => {
          loadOrPositionedProblems(Buffer.from(stringifyYaml(replaceAt(structuredClone(doc), path, value))));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('random YAML-ish documents (JSON values in YAML flow style)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => loadOrPositionedProblems(Buffer.from(JSON.stringify(v)))),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

// What the fuzzers found, kept as named cases.
describe('fuzz findings', () => {
  it('an alias whose anchor is missing (`*x`, found from the bytes "*\\0"): a problem at the alias, not a ReferenceError', () => {
    assert.deepEqual(
      checkSpecText('*\0', 'a.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`),
      ['1:1 YAML alias error: Unresolved alias (the anchor must be set before the alias)'],
    );
    assert.deepEqual(
      checkSpecText('version: 1\nsources: *nope\n', 'a.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`),
      ['2:10 YAML alias error: Unresolved alias (the anchor must be set before the alias)'],
    );
  });

  it('an alias bomb: a problem at the first alias, not a ReferenceError', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    assert.deepEqual(
      checkSpecText(lines.join('\n'), 'b.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`),
      ['2:8 YAML alias error: Excessive alias count indicates a resource exhaustion attack'],
    );
  });
});
