/**
 * Loading adsync.yaml: YAML with positions → JSON Schema (ajv) → semantic rules → defaults. Every problem is
 * reported at once, sorted by position, as a SpecError whose problems print as `FILE:LINE:COL message`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { AdsyncError, SpecError, type SpecProblem } from '../errors.js';
import { normalizeSpec } from './normalize.js';
import { Locator } from './positions.js';
import { semanticProblems } from './rules.js';
import { schemaValidator } from './schema.js';
import { schemaProblems, type PathProblem } from './schema-problems.js';
import type { Spec } from './types.js';

export function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}

/** Every problem in a spec's text, sorted by position; empty when the spec is valid. `file` is used as given. */
export function checkSpecText(text: string, file: string): { problems: SpecProblem[]; data: unknown } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lines);
  const problems: SpecProblem[] = [];
  let syntaxBroken = false;
  for (const err of doc.errors) {
    const { line, col } = locator.at(err.pos[0]);
    if (err.code === 'DUPLICATE_KEY') {
      const key = keyAt(text, err.pos[0]);
      problems.push({ file, line, col, message: `duplicate key${key ? ` '${key}'` : ''}: each key may appear once in a mapping` });
    } else {
      syntaxBroken = true;
      problems.push({ file, line, col, message: `YAML syntax error: ${err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}` });
    }
  }
  // A document that didn't parse would only produce misleading schema errors: report the syntax first.
  if (syntaxBroken) return { problems: sortProblems(problems), data: undefined };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // The yaml library refuses alias bombs (a billion laughs) while expanding: say where the aliases are.
    if (!(err instanceof ReferenceError)) throw err;
    const alias = /(^|[\s[{,:-])\*[^\s,\]}]+/m.exec(text);
    const { line, col } = locator.at(alias ? alias.index + alias[1]!.length : 0);
    problems.push({ file, line, col, message: 'YAML aliases expand too much (over 100 alias uses: a resource exhaustion attack?); write the values out instead of repeating *aliases' });
    return { problems: sortProblems(problems), data: undefined };
  }
  if (data === null || data === undefined) {
    problems.push({ file, line: 1, col: 1, message: 'the spec is empty: it needs at least version, sources and target' });
    return { problems: sortProblems(problems), data };
  }
  const validate = schemaValidator();
  const pathProblems: PathProblem[] = [];
  if (!validate(data)) pathProblems.push(...schemaProblems(validate.errors ?? []));
  pathProblems.push(...semanticProblems(data));
  for (const p of pathProblems) {
    const { line, col } = locator.locate(p.path, p.at);
    let message = p.message;
    if (p.related !== undefined) {
      const other = locator.locate(p.related, 'key');
      message = message.replace('{related}', `${file}:${other.line}:${other.col}`);
    }
    problems.push({ file, line, col, message });
  }
  return { problems: sortProblems(dedupe(problems)), data };
}

function dedupe(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.col} ${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The key text at an offset (for duplicate-key messages). */
function keyAt(text: string, offset: number): string | undefined {
  const m = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:#\n]*?))\s*:/.exec(text.slice(offset, offset + 200));
  const key = m?.[1] ?? m?.[2] ?? m?.[3];
  return key === undefined || key === '' ? undefined : key;
}

/**
 * Parse and validate a spec's text (pure apart from resolving `file` to an absolute path). Throws a SpecError
 * with every problem; problems name `file` as given.
 */
export function parseSpec(text: string, file: string): Spec {
  const { problems, data } = checkSpecText(text, file);
  if (problems.length > 0) throw new SpecError(problems);
  const abs = resolve(file);
  return normalizeSpec(data, { file: abs, dir: dirname(abs), digest: createHash('sha256').update(text, 'utf8').digest('hex') });
}

/** Read, parse and validate a spec file. Its digest is over the file's bytes. */
export async function loadSpec(path: string): Promise<Spec> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AdsyncError('spec_not_found', `spec not found: ${path}`, { hint: '-c/--config defaults to ./adsync.yaml' });
    }
    if (code === 'EISDIR') {
      throw new AdsyncError('spec_not_found', `spec not found: ${path} is a directory`, { hint: 'point -c/--config at the adsync.yaml file itself' });
    }
    throw new AdsyncError('spec_unreadable', `cannot read spec ${path}: ${code ?? String(err)}`, { hint: 'check the file\'s permissions', cause: err });
  }
  const text = bytes.toString('utf8');
  const spec = parseSpec(text, path);
  // The digest binds saved plans to the exact bytes, BOM and line endings included.
  return { ...spec, digest: createHash('sha256').update(bytes).digest('hex') };
}
