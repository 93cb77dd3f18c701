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
import { compileExpression, EXPRESSION_LIMITS, type FlowContext } from '../../src/engine/expr.js';
import { compileFilter, parseLdapFilter } from '../../src/engine/ldapfilter.js';

const EMPTY_CONTEXT: FlowContext = {
  attrs: {},
  source: {},
  sourceAll: {},
  anchor: 'AAAAAAAAAAAAAAAAAAAAAA==',
  dn: 'CN=x,DC=example,DC=com',
  domain: 'example.com',
  mailEnabled: false,
};

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

  it('no plain Error is thrown outside the emulator', () => {
    const found: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const n = (readFileSync(file, 'utf8').match(/\bnew Error\(/g) ?? []).length;
      if (n > 0) found.push(`${relative(ROOT, file).split('\\').join('/')} throws ${n} plain Error(s)`);
    }
    assert.deepEqual(found, [], 'use a catalogued AdsyncError');
  });

  it("the engine's errors carry catalogue codes", () => {
    assert.throws(
      () => compileExpression('"a"'.repeat(EXPRESSION_LIMITS.maxLength)),
      (e: unknown) => e instanceof AdsyncError && e.code === 'expression_too_long',
    );
    assert.throws(
      () => compileFilter(parseLdapFilter('(cn:1.2.840.113556.1.4.1941:=x)')),
      (e: unknown) => e instanceof AdsyncError && e.code === 'scope_filter_unsupported',
    );
    assert.throws(
      () => compileExpression('{"a": source.cn}')({ ...EMPTY_CONTEXT, source: { cn: 'x' } }),
      (e: unknown) => e instanceof AdsyncError && e.code === 'expression_map',
    );
  });
});
