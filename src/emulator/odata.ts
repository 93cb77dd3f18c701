/**
 * OData `$filter` parsing and evaluation for the subset Graph's directory supports (graph-facts §4).
 *
 * Why our own parser: the maintained npm parsers (`@odata/parser`, `odata-v4-parser`) follow the OData 4.0
 * grammar strictly and reject what Graph accepts every day — the camel-cased `startsWith`/`endsWith` and the
 * OData 4.01 `in` operator (both tried). The subset here is small: comparisons, `in`, `and`/`or`/`not`,
 * `startsWith`/`endsWith`, and `any` lambdas over multi-valued properties.
 */

export type Literal = string | number | boolean | null;

export type FilterNode =
  | { type: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; path: string; value: Literal }
  | { type: 'in'; path: string; values: Literal[] }
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'not'; expr: FilterNode }
  | { type: 'fn'; fn: 'startswith' | 'endswith'; path: string; value: string }
  | { type: 'any'; path: string; variable: string; body: FilterNode };

export class FilterSyntaxError extends Error {}

type Token =
  { t: 'id'; v: string } | { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'punct'; v: '(' | ')' | ',' | ':' };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === ':') {
      out.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new FilterSyntaxError('unterminated string literal');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i];
        i++;
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    const m = /^[-+]?\d+(\.\d+)?(?![\w:-])/.exec(src.slice(i));
    if (m) {
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    // Identifiers, property paths (a/b), and unquoted DateTimeOffset/GUID literals.
    const id = /^[A-Za-z0-9_$@.\-/+]+(:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?/.exec(src.slice(i));
    if (id && id[0].length > 0) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new FilterSyntaxError(`unexpected character '${c}' at ${i}`);
  }
  return out;
}

const CMP = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

export function parseFilter(src: string): FilterNode {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const isId = (v: string): boolean => {
    const t = peek();
    return t?.t === 'id' && t.v.toLowerCase() === v;
  };
  const expectPunct = (v: string): void => {
    const t = toks[pos++];
    if (!t || t.t !== 'punct' || t.v !== v) throw new FilterSyntaxError(`expected '${v}'`);
  };
  const literal = (): Literal => {
    const t = toks[pos++];
    if (!t) throw new FilterSyntaxError('expected a value');
    if (t.t === 'str' || t.t === 'num') return t.v;
    if (t.t === 'id') {
      const l = t.v.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      if (l === 'null') return null;
      return t.v; // DateTimeOffset or GUID literal, compared as a string
    }
    throw new FilterSyntaxError('expected a value');
  };
  const or = (): FilterNode => {
    let left = and();
    while (isId('or')) {
      pos++;
      left = { type: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): FilterNode => {
    let left = unary();
    while (isId('and')) {
      pos++;
      left = { type: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): FilterNode => {
    if (isId('not')) {
      pos++;
      return { type: 'not', expr: unary() };
    }
    return primary();
  };
  const primary = (): FilterNode => {
    const t = toks[pos];
    if (!t) throw new FilterSyntaxError('unexpected end of filter');
    if (t.t === 'punct' && t.v === '(') {
      pos++;
      const e = or();
      expectPunct(')');
      return e;
    }
    if (t.t !== 'id') throw new FilterSyntaxError('expected a property or function');
    pos++;
    const name = t.v;
    const lower = name.toLowerCase();
    const next = peek();
    if ((lower === 'startswith' || lower === 'endswith') && next?.t === 'punct' && next.v === '(') {
      pos++;
      const p = toks[pos++];
      if (!p || p.t !== 'id') throw new FilterSyntaxError('expected a property');
      expectPunct(',');
      const v = literal();
      if (typeof v !== 'string') throw new FilterSyntaxError(`${name} needs a string`);
      expectPunct(')');
      return { type: 'fn', fn: lower, path: p.v, value: v };
    }
    const anyMatch = /^(.*)\/(any)$/i.exec(name);
    if (anyMatch && next?.t === 'punct' && next.v === '(') {
      pos++;
      const v = toks[pos++];
      if (!v || v.t !== 'id') throw new FilterSyntaxError('expected a lambda variable');
      expectPunct(':');
      const body = or();
      expectPunct(')');
      return { type: 'any', path: anyMatch[1]!, variable: v.v, body };
    }
    const opTok = toks[pos++];
    if (!opTok || opTok.t !== 'id') throw new FilterSyntaxError(`expected an operator after '${name}'`);
    const op = opTok.v.toLowerCase();
    if (op === 'in') {
      expectPunct('(');
      const values: Literal[] = [literal()];
      while (peek()?.t === 'punct' && (peek() as { v: string }).v === ',') {
        pos++;
        values.push(literal());
      }
      expectPunct(')');
      return { type: 'in', path: name, values };
    }
    if (!CMP.has(op)) throw new FilterSyntaxError(`unknown operator '${opTok.v}'`);
    return { type: 'cmp', op: op as 'eq', path: name, value: literal() };
  };
  const tree = or();
  if (pos !== toks.length) throw new FilterSyntaxError('unexpected text after the filter');
  return tree;
}

/** Every property path the filter reads, and whether it uses operators Graph reserves for advanced queries. */
export function analyzeFilter(node: FilterNode): { paths: { path: string; op: string }[]; advanced: string[] } {
  const paths: { path: string; op: string }[] = [];
  const advanced: string[] = [];
  const walk = (n: FilterNode, lambdaVar: string | undefined, lambdaPath: string | undefined): void => {
    const real = (p: string): string => (lambdaVar !== undefined && p === lambdaVar ? lambdaPath! : p);
    switch (n.type) {
      case 'cmp':
        paths.push({ path: real(n.path), op: n.op });
        if (n.op === 'ne') advanced.push(real(n.path));
        if (n.value === null && n.op === 'eq') {
          /* eq null is documented for several properties; allowed */
        }
        break;
      case 'in':
        paths.push({ path: real(n.path), op: 'in' });
        break;
      case 'fn':
        paths.push({ path: real(n.path), op: n.fn });
        if (n.fn === 'endswith') advanced.push(real(n.path));
        break;
      case 'and':
      case 'or':
        walk(n.left, lambdaVar, lambdaPath);
        walk(n.right, lambdaVar, lambdaPath);
        break;
      case 'not':
        advanced.push('not');
        walk(n.expr, lambdaVar, lambdaPath);
        break;
      case 'any':
        paths.push({ path: n.path, op: 'any' });
        walk(n.body, n.variable, n.path);
        break;
    }
  };
  walk(node, undefined, undefined);
  return { paths, advanced };
}

/** Directory string comparisons are case-insensitive (UPNs, mail, names). */
function norm(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

function compare(a: unknown, b: Literal, op: string): boolean {
  const x = norm(a);
  const y = norm(b);
  if (op === 'eq') return (x ?? null) === y;
  if (op === 'ne') return (x ?? null) !== y;
  if (x === null || x === undefined || y === null) return false;
  const xs = x as string | number;
  const ys = y as string | number;
  switch (op) {
    case 'gt':
      return xs > ys;
    case 'ge':
      return xs >= ys;
    case 'lt':
      return xs < ys;
    case 'le':
      return xs <= ys;
  }
  return false;
}

export type Getter = (path: string) => unknown;

export function evaluate(node: FilterNode, get: Getter): boolean {
  switch (node.type) {
    case 'cmp':
      return compare(get(node.path), node.value, node.op);
    case 'in': {
      const v = get(node.path);
      return node.values.some((x) => compare(v, x, 'eq'));
    }
    case 'and':
      return evaluate(node.left, get) && evaluate(node.right, get);
    case 'or':
      return evaluate(node.left, get) || evaluate(node.right, get);
    case 'not':
      return !evaluate(node.expr, get);
    case 'fn': {
      const v = get(node.path);
      if (typeof v !== 'string') return false;
      const s = v.toLowerCase();
      const p = node.value.toLowerCase();
      return node.fn === 'startswith' ? s.startsWith(p) : s.endsWith(p);
    }
    case 'any': {
      const arr = get(node.path);
      if (!Array.isArray(arr)) return false;
      // `x` is the element; `x/skuId` a property of an element that is an object (assignedLicenses).
      return arr.some((el) =>
        evaluate(node.body, (p) =>
          p === node.variable
            ? el
            : p.startsWith(`${node.variable}/`)
              ? ((el as Record<string, unknown> | null)?.[p.slice(node.variable.length + 1)] ?? null)
              : get(p),
        ),
      );
    }
  }
}

/**
 * Candidate lookups an index can answer: `prop eq v`, `prop in (...)`, and their `and`/`or` combinations.
 * Returns undefined when the filter needs a scan.
 */
export function indexPlan(
  node: FilterNode,
  indexed: (path: string) => boolean,
): { path: string; values: Literal[] }[] | undefined {
  switch (node.type) {
    case 'cmp':
      return node.op === 'eq' && node.value !== null && indexed(node.path)
        ? [{ path: node.path, values: [node.value] }]
        : undefined;
    case 'in':
      return indexed(node.path) && !node.values.includes(null) ? [{ path: node.path, values: node.values }] : undefined;
    case 'and':
      return indexPlan(node.left, indexed) ?? indexPlan(node.right, indexed);
    case 'or': {
      const l = indexPlan(node.left, indexed);
      const r = indexPlan(node.right, indexed);
      return l && r ? [...l, ...r] : undefined;
    }
    default:
      return undefined;
  }
}
