/**
 * The error catalogue (src/errors/catalogue.ts) is complete and docs/errors.md says the same: every code
 * thrown in src/ has an entry, the doc is the catalogue rendered, AdsyncError takes its exit code and default
 * hint from it, and no plain `Error` is thrown outside the emulator (which answers as Graph does).
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AdsyncError, SourceError, TargetError } from '../../src/errors.js';
import { ERROR_CATALOGUE, errorCatalogueMarkdown, errorEntry } from '../../src/errors/catalogue.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? e.name === 'emulator'
        ? []
        : sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** The codes passed literally as the first argument of an adsync error (`new TargetError('entra_…', …)`). */
export function thrownCodes(source: string): string[] {
  const re = /(?:new [A-Z][A-Za-z]*Error|toTargetError|super)\(\s*'([a-z]+(?:_[a-z]+)*)'\s*,/g;
  return [...source.matchAll(re)].map((m) => m[1]!);
}

/**
 * Plain `Error`s the engine still throws: src/engine belongs to the pipeline branch this round, which turns
 * them into catalogue errors. The count per file may only go down.
 */
const ENGINE_PENDING: Record<string, number> = {
  'src/engine/ldapfilter.ts': 2,
  'src/engine/desired.ts': 1,
  'src/engine/expr.ts': 2,
};

describe('error catalogue', () => {
  it('has an entry for every code src/ throws', () => {
    const missing = sourceFiles(SRC).flatMap((file) =>
      thrownCodes(readFileSync(file, 'utf8'))
        .filter((code) => errorEntry(code) === undefined)
        .map((code) => `${relative(ROOT, file)}: ${code}`),
    );
    assert.deepEqual(missing, []);
  });

  it('the scanner finds codes on the same line and the next', () => {
    assert.deepEqual(
      thrownCodes(
        "throw new TargetError(\n  'entra_unreachable',\n  `x`);\nnew AdsyncError('usage', 'y'); f('no_code', 1)",
      ),
      ['entra_unreachable', 'usage'],
    );
  });

  it('docs/errors.md is the catalogue rendered (npm run docs:errors)', () => {
    assert.equal(readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8'), errorCatalogueMarkdown());
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(errorCatalogueMarkdown().includes(`| \`${code}\` |`));
  });

  it('every entry has a summary, an exit code and a hint', () => {
    for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
      assert.match(code, /^[a-z]+(_[a-z]+)*$/, code);
      assert.ok(e.summary.length > 0 && e.hint.length > 0, code);
      assert.ok(Number.isInteger(e.exitCode) && e.exitCode > 0 && e.exitCode < 256, code);
    }
  });

  it('an error takes its exit code and default hint from the catalogue; the thrower may be more specific', () => {
    const plain = new TargetError('entra_failed', 'Entra: reading users failed: boom');
    assert.equal(plain.hint, ERROR_CATALOGUE.entra_failed.hint);
    assert.equal(plain.exitCode, 1);
    assert.equal(new AdsyncError('apply_interrupted', 'interrupted').exitCode, 130);
    assert.equal(new AdsyncError('apply_interrupted', 'interrupted', { exitCode: 143 }).exitCode, 143);
    assert.equal(new SourceError('ldap_timeout', 'slow', { hint: 'narrow scope.ous' }).hint, 'narrow scope.ous');
    assert.equal(new AdsyncError('not_catalogued', 'x').hint, undefined);
  });

  it('no plain Error is thrown outside the emulator (the engine: only those it had, until its branch lands)', () => {
    const found: Record<string, number> = {};
    for (const file of sourceFiles(SRC)) {
      const n = (readFileSync(file, 'utf8').match(/\bnew Error\(/g) ?? []).length;
      if (n > 0) found[relative(ROOT, file).split('\\').join('/')] = n;
    }
    for (const [file, n] of Object.entries(found))
      assert.ok(n <= (ENGINE_PENDING[file] ?? 0), `${file} throws ${n} plain Error(s): use a catalogued AdsyncError`);
  });
});
