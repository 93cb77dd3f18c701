/**
 * Query options on collections (graph-facts §4): `$select`, `$filter`, `$top` (1–999, default 100),
 * `$skiptoken` paging with absolute https nextLinks, `$count` with `ConsistencyLevel: eventual`.
 * Paging walks insertion order from a cursor, so a page never re-sorts the collection.
 */
import { Buffer } from 'node:buffer';
import type { Collection, DirObject, Store } from './store.js';
import type { EntitySchema } from './schema.js';
import { EXTENSION_PROPERTY } from './schema.js';
import { GraphError, badRequest, type GraphRequest, type GraphResponse } from './http.js';
import { analyzeFilter, evaluate, FilterSyntaxError, indexPlan, parseFilter, type FilterNode } from './odata.js';
import { EXTENSION_RULE, filterRule, type FilterOp } from './query-rules.js';

export const DEFAULT_PAGE = 100;

const NON_DIRECTORY_USER_PROPERTIES = new Set([
  'aboutMe',
  'birthday',
  'hireDate',
  'interests',
  'mailboxSettings',
  'mySite',
  'pastProjects',
  'preferredName',
  'responsibilities',
  'schools',
  'skills',
]);

/** `ConsistencyLevel: eventual` and `$count=true` both present (graph-facts §4 Advanced queries). */
export function isAdvanced(req: GraphRequest): boolean {
  return (
    (req.headers['consistencylevel'] ?? '').toLowerCase() === 'eventual' &&
    req.query.get('$count')?.toLowerCase() === 'true'
  );
}

export function hasEventual(req: GraphRequest): boolean {
  return (req.headers['consistencylevel'] ?? '').toLowerCase() === 'eventual';
}

/** The properties `$select` names, validated; undefined without `$select`. */
export function parseSelect(
  req: GraphRequest,
  schema: EntitySchema,
  store: Store,
  extra: string[] = [],
): string[] | undefined {
  const raw = req.query.get('$select');
  if (raw === null) return undefined;
  const props = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const p of props) {
    if (schema.properties.has(p) || extra.includes(p)) continue;
    // graph-facts §4: user properties stored outside Entra (SharePoint/Exchange) → 501 NotImplemented.
    if (schema.kind === 'user' && NON_DIRECTORY_USER_PROPERTIES.has(p)) {
      throw new GraphError(501, 'NotImplemented', 'This operation target is not yet supported.');
    }
    if (EXTENSION_PROPERTY.test(p)) {
      const ext = store.extensions.get(p);
      if (ext && ext.targetObjects.includes(targetName(schema))) continue;
    }
    // Not quoted in graph-facts; this is the OData layer's wording for an unknown property.
    throw badRequest(`Could not find a property named '${p}' on type '${schema.odataType.slice(1)}'.`);
  }
  return props;
}

export function targetName(schema: EntitySchema): string {
  return schema.kind === 'user' ? 'User' : schema.kind === 'group' ? 'Group' : 'OrgContact';
}

/** One object as Graph returns it: the default set, or exactly the selected properties. */
export function render(o: DirObject, schema: EntitySchema, select: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of select ?? schema.defaults) {
    if (EXTENSION_PROPERTY.test(p)) {
      // Open type: an unset extension property is absent, a set one is a top-level property (graph-facts §11).
      if (o.props[p] !== undefined && o.props[p] !== null) out[p] = o.props[p];
      continue;
    }
    if (!schema.properties.has(p)) continue; // relationship names (members, manager) are rendered by delta
    if (p === 'passwordProfile') {
      out[p] = null;
      continue;
    } // write-only
    const v = o.props[p];
    out[p] = v === undefined || v === null ? (schema.collections.has(p) ? [] : null) : v;
  }
  return out;
}

/** Value of a filter path on an object: `prop`, `prop/sub` (complex), extension properties. */
export function getter(o: DirObject): (path: string) => unknown {
  return (path: string) => {
    const slash = path.indexOf('/');
    if (slash < 0) {
      const v = o.props[path];
      return v === undefined ? null : v;
    }
    if (path.endsWith('/$count')) {
      const v = o.props[path.slice(0, -'/$count'.length)];
      return Array.isArray(v) ? v.length : 0;
    }
    const head = o.props[path.slice(0, slash)];
    if (head && typeof head === 'object') return (head as Record<string, unknown>)[path.slice(slash + 1)] ?? null;
    return null;
  };
}

/** Every (property path, operator) a filter uses; a leaf under `not` also uses `not` (lambda variables resolved). */
export function filterUses(node: FilterNode): { path: string; op: FilterOp | 'gt' | 'lt' }[] {
  const out: { path: string; op: FilterOp | 'gt' | 'lt' }[] = [];
  const walk = (n: FilterNode, lambda: { v: string; path: string } | undefined, negated: boolean): void => {
    const real = (p: string): string => {
      if (!lambda) return p;
      if (p === lambda.v) return lambda.path;
      return p.startsWith(`${lambda.v}/`) ? `${lambda.path}/${p.slice(lambda.v.length + 1)}` : p;
    };
    const use = (path: string, op: FilterOp | 'gt' | 'lt'): void => {
      // `not(p eq v)` is what the docs' `not` means (e.g. passwordPolicies lists `not` but no `eq`).
      if (!(negated && op === 'eq')) out.push({ path: real(path), op });
      if (negated) out.push({ path: real(path), op: 'not' });
    };
    switch (n.type) {
      case 'cmp':
        if (n.path.endsWith('/$count')) {
          use(
            n.path.slice(0, -'/$count'.length),
            (n.op === 'eq' || n.op === 'ne') && typeof n.value === 'number' ? 'count' : 'gt',
          );
          break;
        }
        use(n.path, n.op === 'eq' && n.value === null ? 'eqNull' : n.op);
        break;
      case 'in':
        use(n.path, 'in');
        break;
      case 'fn':
        use(n.path, n.fn === 'startswith' ? 'startsWith' : 'endsWith');
        break;
      case 'and':
      case 'or':
        walk(n.left, lambda, negated);
        walk(n.right, lambda, negated);
        break;
      case 'not':
        walk(n.expr, lambda, true);
        break;
      case 'any':
        walk(n.body, { v: n.variable, path: real(n.path) }, negated);
        break;
    }
  };
  walk(node, undefined, false);
  return out;
}

/** Parses and checks `$filter` against what Graph allows on this entity (graph-facts §4). */
export function parseCollectionFilter(req: GraphRequest, schema: EntitySchema, store: Store): FilterNode | undefined {
  const raw = req.query.get('$filter');
  if (raw === null) return undefined;
  let node: FilterNode;
  try {
    node = parseFilter(raw);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw badRequest(`Invalid filter clause: ${e.message}`);
    throw e;
  }
  const resource = targetName(schema);
  const unsupported = (p: string): GraphError =>
    badRequest(
      `Unsupported or invalid query filter clause specified for property '${p}' of resource '${resource}'.`,
      'Request_UnsupportedQuery',
    );
  if (schema.kind !== 'contact') {
    // The per-property table (query-rules.ts), one source per row.
    const entity = schema.kind;
    for (const { path, op } of filterUses(node)) {
      const head = path.split('/')[0]!;
      const isExt =
        EXTENSION_PROPERTY.test(head) && store.extensions.get(head)?.targetObjects.includes(resource) === true;
      const rule = isExt ? EXTENSION_RULE : filterRule(entity, head);
      if (!rule) throw unsupported(path);
      if (op === 'gt' || op === 'lt') throw unsupported(path); // no directory property lists gt/lt
      if (rule.basic.includes(op)) continue;
      if (!rule.advanced.includes(op)) throw unsupported(path);
      if (isAdvanced(req)) continue;
      // aad-advanced-queries error table: an advanced-only operator names the operator; a property whose
      // eq itself needs the parameters answers with the property clause message (observed, Q&A 577870).
      if (op === 'ne' || op === 'not' || op === 'endsWith')
        throw badRequest(
          `Operator '${op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information`,
          'Request_UnsupportedQuery',
        );
      throw unsupported(path);
    }
    return node;
  }
  const { paths, advanced } = analyzeFilter(node);
  for (const { path, op } of paths) {
    const head = path.split('/')[0]!;
    const isExt =
      EXTENSION_PROPERTY.test(head) && store.extensions.get(head)?.targetObjects.includes(resource) === true;
    if (!schema.filterable.has(head) && !isExt) throw unsupported(path);
    if (op === 'endswith' && !schema.endsWith.has(head)) throw unsupported(path);
  }
  // ne / not / endsWith need ConsistencyLevel: eventual and $count=true (graph-facts §4).
  if (advanced.length > 0 && !isAdvanced(req))
    throw unsupported(advanced[0] === 'not' ? (paths[0]?.path ?? 'not') : advanced[0]!);
  return node;
}

export function parseTop(req: GraphRequest): number {
  const raw = req.query.get('$top');
  if (raw === null) return DEFAULT_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 999) {
    // graph-facts §4 Paging (observed message).
    throw badRequest(`Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`);
  }
  return n;
}

interface SkipToken {
  c: number;
  n?: number;
}

export function encodeToken(t: object): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

export function decodeToken<T>(raw: string): T {
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
  } catch {
    throw badRequest('Invalid $skiptoken.', 'Request_BadRequest');
  }
}

/** Absolute https nextLink with the request's own query options and a new `$skiptoken` (graph-facts §13.4). */
export function nextLink(req: GraphRequest, param: string, token: string): string {
  const q = new URLSearchParams(req.query);
  q.delete('$skiptoken');
  q.delete('$deltatoken');
  q.set(param, token);
  return `${req.base}/v1.0${req.rawPath}?${q.toString().replace(/%24/g, '$')}`;
}

export function contextUrl(req: GraphRequest, fragment: string, select: string[] | undefined): string {
  const sel = select ? `(${req.query.get('$select')})` : '';
  return `${req.base}/v1.0/$metadata#${fragment}${sel}`;
}

export function checkUnsupportedOptions(req: GraphRequest, expands = false): void {
  // graph-facts-2 §4.3: $skip isn't supported on directory objects.
  if (req.query.has('$skip')) throw badRequest("'$skip' is not supported by the service.");
  if (req.query.has('$search') && !hasEventual(req)) {
    throw badRequest(
      "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      'Request_UnsupportedQuery',
    );
  }
  // Not implemented by the emulator (yet): say so instead of answering wrongly.
  if ((req.query.has('$expand') && !expands) || req.query.has('$search')) {
    throw new GraphError(501, 'NotImplemented', 'This operation target is not yet supported.');
  }
}

export interface ListSource {
  /** Objects in stable order from a cursor; `after(c)` yields [object, cursorAfterIt]. */
  after(cursor: number): Iterable<[DirObject, number]>;
  /** For eq-indexable filters: the collection to look candidates up in. */
  collection?: Collection;
}

export function collectionSource(c: Collection): ListSource {
  return {
    collection: c,
    *after(cursor) {
      for (const o of c.after(cursor)) yield [o, o.ord];
    },
  };
}

/** Members sets: cursor = number of entries consumed. */
export function idSetSource(ids: Iterable<string>, resolve: (id: string) => DirObject | undefined): ListSource {
  return {
    *after(cursor) {
      let i = 0;
      for (const id of ids) {
        i++;
        if (i <= cursor) continue;
        const o = resolve(id);
        if (o) yield [o, i];
      }
    },
  };
}

/** A collection GET: filter, select, page, count. */
export function listResponse(
  req: GraphRequest,
  store: Store,
  source: ListSource,
  schemaOf: (o: DirObject) => EntitySchema,
  opts: {
    contextFragment: string;
    schema?: EntitySchema;
    typed?: boolean;
    visible: (o: DirObject) => boolean;
    expand?: (o: DirObject) => Record<string, unknown>;
  },
): GraphResponse {
  checkUnsupportedOptions(req, opts.expand !== undefined);
  const mainSchema = opts.schema;
  const expandNames =
    opts.expand && req.query.has('$expand')
      ? (req.query.get('$expand') ?? '').split(',').map((s) => s.split('(')[0]!.trim())
      : [];
  const select = mainSchema ? parseSelect(req, mainSchema, store, expandNames) : undefined;
  const filter = mainSchema ? parseCollectionFilter(req, mainSchema, store) : undefined;
  const top = parseTop(req);
  const tokenRaw = req.query.get('$skiptoken');
  const token: SkipToken = tokenRaw ? decodeToken<SkipToken>(tokenRaw) : { c: 0 };
  const matches = (o: DirObject): boolean => opts.visible(o) && (!filter || evaluate(filter, getter(o)));
  const orderby = mainSchema ? parseOrderBy(req, mainSchema, filter !== undefined) : undefined;
  if (orderby)
    return orderedList(
      req,
      store,
      source,
      mainSchema!,
      select,
      matches,
      orderby,
      top,
      token,
      opts.contextFragment,
      opts.expand,
    );

  // Index fast path: `prop eq 'v'`, `prop in (...)` and and/or combinations.
  let iterable: Iterable<[DirObject, number]> = source.after(token.c);
  const coll = source.collection;
  if (filter && coll) {
    const plan = indexPlan(filter, (p) => coll.isIndexed(p)) ?? proxyPlan(filter);
    if (plan) {
      const cands: DirObject[] = [];
      const seen = new Set<string>();
      for (const { path, values } of plan) {
        for (const v of values) {
          const ids = path === 'proxyAddresses' ? proxyLookup(store, v) : (coll.lookup(path, v) ?? []);
          for (const id of ids) {
            if (seen.has(id)) continue;
            seen.add(id);
            const o = coll.byId.get(id);
            if (o && o.ord > token.c) cands.push(o);
          }
        }
      }
      cands.sort((a, b) => a.ord - b.ord);
      iterable = cands.map((o): [DirObject, number] => [o, o.ord]);
    }
  }

  const value: Record<string, unknown>[] = [];
  let cursor = token.c;
  let more = false;
  for (const [o, c] of iterable) {
    if (!matches(o)) {
      cursor = c;
      continue;
    }
    if (value.length === top) {
      more = true;
      break;
    }
    const schema = schemaOf(o);
    const item = { ...render(o, schema, mainSchema ? select : undefined), ...(opts.expand ? opts.expand(o) : {}) };
    value.push(opts.typed ? { '@odata.type': schema.odataType, ...item } : item);
    cursor = c;
  }

  const body: Record<string, unknown> = { '@odata.context': contextUrl(req, opts.contextFragment, select) };
  // @odata.count only on the first page, only for advanced queries (graph-facts §4).
  if (isAdvanced(req) && !tokenRaw) {
    let n = 0;
    for (const [o] of source.after(0)) if (matches(o)) n++;
    body['@odata.count'] = n;
  }
  if (more) body['@odata.nextLink'] = nextLink(req, '$skiptoken', encodeToken({ c: cursor }));
  body['value'] = value;
  return { status: 200, headers: {}, body };
}

/** `/users/$count`, `/groups/$count`: needs `ConsistencyLevel: eventual` (graph-facts §4), answers text/plain. */
export function countResponse(
  req: GraphRequest,
  store: Store,
  schema: EntitySchema,
  c: Collection,
  visible: (o: DirObject) => boolean,
): GraphResponse {
  if (!hasEventual(req)) throw badRequest('$count is not currently supported.');
  const filter = parseCollectionFilterForCount(req, schema, store);
  let n = 0;
  for (const o of c.after(0)) if (visible(o) && (!filter || evaluate(filter, getter(o)))) n++;
  return { status: 200, headers: { 'content-type': 'text/plain;charset=utf-8' }, body: String(n) };
}

/** The `$count` segment is itself an advanced query, so advanced operators are allowed with the header. */
function parseCollectionFilterForCount(req: GraphRequest, schema: EntitySchema, store: Store): FilterNode | undefined {
  const q = new URLSearchParams(req.query);
  q.set('$count', 'true');
  return parseCollectionFilter({ ...req, query: q }, schema, store);
}

// ---- $orderby (graph-facts §4): displayName and userPrincipalName for users, displayName for groups by
// default; anything else, or $filter together with $orderby, is an advanced query. ----

interface OrderBy {
  path: string;
  desc: boolean;
}

function parseOrderBy(req: GraphRequest, schema: EntitySchema, filtered: boolean): OrderBy | undefined {
  const raw = req.query.get('$orderby');
  if (raw === null) return undefined;
  const m = /^\s*([A-Za-z0-9_]+)(?:\s+(asc|desc))?\s*$/i.exec(raw);
  if (!m || !schema.properties.has(m[1]!))
    throw badRequest(`Invalid $orderby clause '${raw}'.`, 'Request_UnsupportedQuery');
  const path = m[1]!;
  const basic = path === 'displayName' || (schema.kind === 'user' && path === 'userPrincipalName');
  if ((!basic || filtered) && !isAdvanced(req)) {
    throw badRequest(
      `Sorting on property '${path}' of resource '${targetName(schema)}' needs an advanced query (ConsistencyLevel: eventual and $count=true).`,
      'Request_UnsupportedQuery',
    );
  }
  return { path, desc: m[2]?.toLowerCase() === 'desc' };
}

/** Sorted results are cached per query and store version, so paging doesn't re-sort per page. */
const sortedCache = new WeakMap<Store, { key: string; ids: DirObject[] }>();

function orderedList(
  req: GraphRequest,
  store: Store,
  source: ListSource,
  schema: EntitySchema,
  select: string[] | undefined,
  matches: (o: DirObject) => boolean,
  orderby: OrderBy,
  top: number,
  token: SkipToken,
  fragment: string,
  expand?: (o: DirObject) => Record<string, unknown>,
): GraphResponse {
  const q = new URLSearchParams(req.query);
  q.delete('$skiptoken');
  q.delete('$top');
  const key = `${store.seq}|${req.rawPath}|${q.toString()}`;
  let cached = sortedCache.get(store);
  if (!cached || cached.key !== key) {
    const all: DirObject[] = [];
    for (const [o] of source.after(0)) if (matches(o)) all.push(o);
    const val = (o: DirObject): string => String(o.props[orderby.path] ?? '').toLowerCase();
    all.sort((a, b) => (val(a) < val(b) ? -1 : val(a) > val(b) ? 1 : a.ord - b.ord) * (orderby.desc ? -1 : 1));
    cached = { key, ids: all };
    sortedCache.set(store, cached);
  }
  const start = token.c;
  const page = cached.ids.slice(start, start + top);
  const body: Record<string, unknown> = { '@odata.context': contextUrl(req, fragment, select) };
  if (isAdvanced(req) && start === 0) body['@odata.count'] = cached.ids.length;
  if (start + top < cached.ids.length)
    body['@odata.nextLink'] = nextLink(req, '$skiptoken', encodeToken({ c: start + top }));
  body['value'] = page.map((o) => ({ ...render(o, schema, select), ...(expand ? expand(o) : {}) }));
  return { status: 200, headers: {}, body };
}

/** `proxyAddresses/any(p:p eq 'smtp:…')` (soft matching by address) answered from the store's address index. */
function proxyPlan(node: FilterNode): { path: string; values: (string | number | boolean | null)[] }[] | undefined {
  if (node.type !== 'any' || node.path !== 'proxyAddresses') return undefined;
  const b = node.body;
  if (b.type === 'cmp' && b.op === 'eq' && b.path === node.variable && typeof b.value === 'string')
    return [{ path: 'proxyAddresses', values: [b.value] }];
  if (b.type === 'in' && b.path === node.variable && b.values.every((v) => typeof v === 'string'))
    return [{ path: 'proxyAddresses', values: b.values }];
  return undefined;
}

function proxyLookup(store: Store, v: unknown): string[] {
  if (typeof v !== 'string') return [];
  const id = store.proxies.get(v.replace(/^smtp:/i, '').toLowerCase());
  return id === undefined ? [] : [id];
}
