/**
 * The layering of src/, checked on the import statements of every source file:
 *   - src/apply/ (the apply loop) imports no connector, and no connector imports src/apply/: they meet only
 *     through the Target interface in src/model/target.ts;
 *   - src/engine/ imports no connector, no command or CLI code, and nothing that does I/O (its only outside
 *     packages are the CEL evaluator and ldapts' filter classes, which are plain data).
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

interface Import {
  specifier: string;
  /** The imported names (empty for `import * as`, side-effect and dynamic imports). */
  names: string[];
}

/** Static imports and re-exports (`import … from`, `export … from`, `import '…'`) and dynamic `import('…')`. */
export function importsOf(source: string): Import[] {
  const found: Import[] = [];
  const statement = /^\s*(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)'/gms;
  for (const m of source.matchAll(statement)) {
    const braces = /\{([^}]*)\}/s.exec(m[2]!);
    const names = braces
      ? braces[1]!
          .split(',')
          .map((n) =>
            n
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)[0]!
              .trim(),
          )
          .filter((n) => n !== '')
      : [];
    found.push({ specifier: m[3]!, names });
  }
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push({ specifier: m[1]!, names: [] });
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push({ specifier: m[1]!, names: [] });
  return found;
}

/** The src/ folder an import lands in (`apply`, `connectors`, …), or the package name for a bare import. */
function landing(fromFile: string, specifier: string): { folder?: string; pkg?: string } {
  if (!specifier.startsWith('.')) {
    const parts = specifier.split('/');
    return { pkg: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
  }
  const rel = relative(SRC, resolve(dirname(fromFile), specifier));
  return { folder: rel.split(/[\\/]/)[0]!.replace(/\.js$/, '') };
}

const ENGINE_PACKAGES: Record<string, (names: string[]) => boolean> = {
  '@marcbachmann/cel-js': () => true,
  // hashing (digests of plans and objects, incremental or one-shot) is computation, not I/O
  'node:crypto': (names) => names.length > 0 && names.every((n) => ['createHash', 'hash'].includes(n)),
  // ldapts is an LDAP client; the engine may use only its filter classes (parsing and matching, no I/O).
  ldapts: (names) => names.length > 0 && names.every((n) => /Filter(Parser)?$/.test(n)),
};

/** The layering rules a file of `folder` breaks by `imp` (empty: none). */
export function violations(file: string, folder: string, imp: Import): string[] {
  const to = landing(file, imp.specifier);
  const at = `${relative(ROOT, file)} imports '${imp.specifier}'`;
  const out: string[] = [];
  if (folder === 'apply' && to.folder === 'connectors')
    out.push(`${at}: the apply loop meets connectors only through Target`);
  if (folder === 'connectors' && to.folder === 'apply') out.push(`${at}: a connector must not import the apply loop`);
  if (folder === 'engine') {
    // render/escape.ts: pure string escaping, for messages that quote values
    const escape = to.folder === 'render' && /\/render\/escape\.js$/.test(imp.specifier);
    if (to.folder !== undefined && !['engine', 'model', 'spec', 'errors'].includes(to.folder) && !escape)
      out.push(`${at}: the engine imports only engine, model, spec, errors and render/escape`);
    if (to.pkg !== undefined && ENGINE_PACKAGES[to.pkg]?.(imp.names) !== true)
      out.push(`${at}: the engine does no I/O and uses no package but the CEL evaluator and ldapts' filters`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function check(folder: string): string[] {
  return sourceFiles(join(SRC, folder)).flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).flatMap((imp) => violations(file, folder, imp)),
  );
}

describe('layering of src/', () => {
  it('src/apply imports no connector', () => assert.deepEqual(check('apply'), []));
  it('no connector imports src/apply', () => assert.deepEqual(check('connectors'), []));
  it('src/engine imports no connector and nothing that does I/O', () => assert.deepEqual(check('engine'), []));

  it('the scanner finds every kind of import, and the rules name a forbidden one', () => {
    const source = [
      "import { applyPlan } from '../../apply/loop.js';",
      'import type {',
      '  Target,',
      "} from '../../model/target.js';",
      "export { x as y } from '../../apply/types.js';",
      "const m = await import('../../apply/journal.js');",
    ].join('\n');
    assert.deepEqual(
      importsOf(source).map((i) => i.specifier),
      ['../../apply/loop.js', '../../model/target.js', '../../apply/types.js', '../../apply/journal.js'],
    );
    const file = join(SRC, 'connectors', 'entra', 'x.ts');
    const bad = importsOf(source).flatMap((imp) => violations(file, 'connectors', imp));
    assert.equal(bad.length, 3);
    const engineFile = join(SRC, 'engine', 'x.ts');
    const engine = (s: string): string[] => importsOf(s).flatMap((imp) => violations(engineFile, 'engine', imp));
    assert.equal(engine("import { readFile } from 'node:fs/promises';").length, 1);
    assert.equal(engine("import { createHash } from 'node:crypto';").length, 0);
    assert.equal(engine("import { hash as digestOf } from 'node:crypto';").length, 0);
    assert.equal(engine("import { randomBytes } from 'node:crypto';").length, 1);
    assert.equal(engine("import { safeText } from '../render/escape.js';").length, 0);
    assert.equal(engine("import { textLines } from '../render/text.js';").length, 1);
    assert.equal(engine("import { Client } from 'ldapts';").length, 1);
    assert.equal(engine("import { EqualityFilter, type Filter } from 'ldapts';").length, 0);
    assert.equal(engine("import { connectEntra } from '../connectors/entra/index.js';").length, 1);
    assert.equal(engine("import type { Plan } from '../model/plan.js';").length, 0);
  });
});
