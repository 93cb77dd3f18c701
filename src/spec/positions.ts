/**
 * From a path in the parsed spec (`['sources', 0, 'scope']`) to a line and column in the YAML text, so every
 * problem can point at the exact key or value it is about.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

export type SpecPath = ReadonlyArray<string | number>;

export interface Located {
  line: number;
  col: number;
  /** How much of the path was found (a missing tail points at the nearest existing ancestor). */
  found: number;
}

/** `sources[0].ldap.url`, or `the spec` for the root. */
export function formatPath(path: SpecPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg) ? `.${seg}` : `['${seg}']`;
  }
  return out === '' ? 'the spec' : out;
}

/** ajv's instancePath (`/sources/0/scope`, RFC 6901) as path segments; array indexes become numbers. */
export function parsePointer(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private pos(offset: number): { line: number; col: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** Each mapping's keys → their pairs, built on first use: a lookup per problem must not scan the mapping. */
  private readonly pairIndex = new WeakMap<object, Map<string, Pair<unknown, unknown>>>();

  private findPair(map: Node, key: string | number): Pair<unknown, unknown> | undefined {
    if (!isMap(map)) return undefined;
    let index = this.pairIndex.get(map);
    if (index === undefined) {
      index = new Map();
      for (const item of map.items) {
        if (!isPair(item)) continue;
        const k = String(isScalar(item.key) ? item.key.value : item.key);
        if (!index.has(k)) index.set(k, item);
      }
      this.pairIndex.set(map, index);
    }
    return index.get(String(key));
  }

  /**
   * Where the node at `path` is. `at: 'key'` points at a mapping key (for unknown keys); `'value'` at the
   * value. A path that isn't in the document points at the nearest ancestor that is.
   */
  locate(path: SpecPath, at: 'key' | 'value' = 'value'): Located {
    let node: unknown = this.doc.contents;
    let lastRange: [number, number, number] | undefined = isNodeWithRange(node) ? node.range : undefined;
    let found = 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      let next: unknown;
      let keyNode: unknown;
      if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      } else if (isMap(node)) {
        const pair = this.findPair(node, seg);
        if (pair) {
          keyNode = pair.key;
          next = pair.value;
          // A key with no value (`ldap:`): the key itself is the best place to point.
          if (
            next === null ||
            (isScalar(next) && next.value === null && next.range != null && next.range[0] === next.range[1])
          )
            next = undefined;
          if (next === undefined && isNodeWithRange(keyNode)) {
            lastRange = keyNode.range;
            found = i + 1;
            break;
          }
        }
      }
      const last = i === path.length - 1;
      if (last && at === 'key' && isNodeWithRange(keyNode)) {
        lastRange = keyNode.range;
        found = i + 1;
        break;
      }
      if (!isNodeWithRange(next)) break;
      node = next;
      lastRange = next.range;
      found = i + 1;
    }
    const offset = lastRange ? lastRange[0] : 0;
    return { ...this.pos(offset), found };
  }

  /** Line and column of a byte offset in the text. */
  at(offset: number): { line: number; col: number } {
    return this.pos(offset);
  }
}

function isNodeWithRange(n: unknown): n is Node & { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
}
