/**
 * /users/delta and /groups/delta (graph-facts §5). The initial round walks the collection in insertion order;
 * later rounds read the store's append-only change log between two sequence numbers. Tokens are opaque
 * (base64url JSON) and carry the original query, so links hold only `$skiptoken` / `$deltatoken`.
 */
import type { Ctx } from './context.js';
import { GraphError, badRequest, json, type GraphRequest, type GraphResponse } from './http.js';
import { decodeToken, encodeToken, parseSelect, render } from './query.js';
import { parseFilter, FilterSyntaxError, type FilterNode } from './odata.js';
import { groupSchema, schemas, userSchema, type Kind } from './schema.js';
import type { DirObject } from './store.js';

const PAGE = 100;
const TOKEN_LIFETIME_MS = 7 * 24 * 3600 * 1000; // graph-facts §5: 7 days for directory objects
const MAX_ID_FILTER = 50;

interface Query {
  sel: string | null;
  ids: string[] | null;
}
interface InitialToken extends Query {
  g: number;
  p: 'i';
  s: number;
  c: number;
  t: number;
}
interface ChangesToken extends Query {
  g: number;
  p: 'c';
  from: number;
  to: number;
  off: number;
  t: number;
}
interface DeltaToken extends Query {
  g: number;
  p: 'd';
  s: number;
  t: number;
}

/** What changed about one object in a window: which properties ('all' = created or replaced), and memberships. */
interface Change {
  obj: boolean;
  props: Set<string> | 'all';
  members: Map<string, { kind: Kind; removed: boolean }>;
}

const changeCache = new WeakMap<object, Map<string, { ids: string[]; changes: Map<string, Change> }>>();

export function handleDelta(ctx: Ctx, req: GraphRequest, kind: 'user' | 'group'): GraphResponse {
  const { store } = ctx;
  const schema = kind === 'user' ? userSchema : groupSchema;
  const skip = req.query.get('$skiptoken');
  const delta = req.query.get('$deltatoken');
  for (const opt of ['$top', '$orderby', '$expand']) {
    if (req.query.has(opt))
      throw badRequest(`The query option '${opt}' is not supported with delta queries.`, 'Request_UnsupportedQuery');
  }
  if (skip !== null && req.query.has('$select')) {
    throw badRequest('Delta queries with both $select and $skipToken are not supported.', 'Request_UnsupportedQuery');
  }
  const base = `${req.base}/v1.0/${schema.set}/delta`;

  if (skip === null && (delta === null || delta === '')) {
    // Initial round.
    const select = parseSelect(req, schema, store, kind === 'group' ? ['members'] : ['manager']);
    const ids = parseIdFilter(req.query.get('$filter'));
    const q: Query = { sel: select ? select.join(',') : null, ids };
    return initialPage(ctx, req, kind, { ...q, g: store.generation, p: 'i', s: store.seq, c: 0, t: req.now }, base);
  }
  if (delta === 'latest') {
    const select = parseSelect(req, schema, store, kind === 'group' ? ['members'] : ['manager']);
    const tok: DeltaToken = {
      g: store.generation,
      p: 'd',
      s: store.seq,
      t: req.now,
      sel: select ? select.join(',') : null,
      ids: parseIdFilter(req.query.get('$filter')),
    };
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#${schema.set}`,
      '@odata.deltaLink': `${base}?$deltatoken=${encodeToken(tok)}`,
      value: [],
    });
  }
  const tok = decodeToken<InitialToken | ChangesToken | DeltaToken>((skip ?? delta)!);
  if (tok.g !== store.generation) {
    // graph-facts §5 Reset: 410 Gone with a Location to a fresh initial query.
    throw new GraphError(
      410,
      'resyncRequired',
      'Resync required. The delta token is no longer valid; replace it with the Location header and sync again.',
      undefined,
      { Location: `${base}?$deltatoken=` },
    );
  }
  const from = tok.p === 'c' ? tok.from : tok.s;
  if (tok.p !== 'i' && from < store.logBase) {
    // The changes since this token were not kept (an emulator limit, LOG_KEEP): Graph's reset, as above.
    throw new GraphError(
      410,
      'resyncRequired',
      'Resync required. The delta token is no longer valid; replace it with the Location header and sync again.',
      undefined,
      { Location: `${base}?$deltatoken=` },
    );
  }
  if (req.now - tok.t > TOKEN_LIFETIME_MS) {
    throw badRequest(
      'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
      'syncStateNotFound',
    );
  }
  if (tok.p === 'i') return initialPage(ctx, req, kind, tok, base);
  if (tok.p === 'd')
    return changesPage(
      ctx,
      req,
      kind,
      { g: tok.g, p: 'c', from: tok.s, to: store.seq, off: 0, t: req.now, sel: tok.sel, ids: tok.ids },
      base,
    );
  return changesPage(ctx, req, kind, tok, base);
}

/** graph-facts §5: `$filter` only as `id eq '…' or id eq '…'`, at most 50 ids. */
function parseIdFilter(raw: string | null): string[] | null {
  if (raw === null) return null;
  let node: FilterNode;
  try {
    node = parseFilter(raw);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw badRequest(`Invalid filter clause: ${e.message}`);
    throw e;
  }
  const ids: string[] = [];
  const walk = (n: FilterNode): void => {
    if (n.type === 'or') {
      walk(n.left);
      walk(n.right);
      return;
    }
    if (n.type === 'cmp' && n.op === 'eq' && n.path === 'id' && typeof n.value === 'string') {
      ids.push(n.value);
      return;
    }
    throw badRequest(
      "Delta queries support $filter only on 'id eq' clauses combined with 'or'.",
      'Request_UnsupportedQuery',
    );
  };
  walk(node);
  if (ids.length > MAX_ID_FILTER)
    throw badRequest(`Delta queries support at most ${MAX_ID_FILTER} ids in $filter.`, 'Request_UnsupportedQuery');
  return ids;
}

function selectOf(q: Query): string[] | undefined {
  return q.sel === null ? undefined : q.sel.split(',');
}

function renderFull(ctx: Ctx, o: DirObject, q: Query): Record<string, unknown> {
  const out: Record<string, unknown> = { id: o.id, ...render(o, schemas[o.kind], selectOf(q)) };
  if (o.kind === 'user' && q.sel?.split(',').includes('manager')) {
    const m = ctx.store.managers.get(o.id);
    if (m !== undefined)
      out['manager@delta'] = [{ '@odata.type': schemas[ctx.store.get(m)?.kind ?? 'user'].odataType, id: m }];
  }
  if (o.kind === 'group' && q.sel?.split(',').includes('members')) {
    out['members@delta'] = [...(ctx.store.members.get(o.id) ?? [])].map((id) => ({
      '@odata.type': schemas[ctx.store.get(id)?.kind ?? 'user'].odataType,
      id,
    }));
  }
  return out;
}

function initialPage(ctx: Ctx, req: GraphRequest, kind: Kind, tok: InitialToken, base: string): GraphResponse {
  const { store } = ctx;
  const coll = store.collection(kind);
  const value: Record<string, unknown>[] = [];
  let cursor = tok.c;
  let more = false;
  const source: Iterable<DirObject> = tok.ids
    ? tok.ids
        .map((id) => coll.byId.get(id))
        .filter((o): o is DirObject => o !== undefined && o.ord > tok.c)
        .sort((a, b) => a.ord - b.ord)
    : coll.after(tok.c);
  for (const o of source) {
    if (value.length === PAGE) {
      more = true;
      break;
    }
    value.push(renderFull(ctx, o, tok));
    cursor = o.ord;
  }
  const body: Record<string, unknown> = { '@odata.context': `${req.base}/v1.0/$metadata#${schemas[kind].set}` };
  if (more) body['@odata.nextLink'] = `${base}?$skiptoken=${encodeToken({ ...tok, c: cursor })}`;
  else {
    // Changes made while paging are replayed by the next round (graph-facts §5: replays are possible).
    const d: DeltaToken = { g: tok.g, p: 'd', s: tok.s, t: req.now, sel: tok.sel, ids: tok.ids };
    body['@odata.deltaLink'] = `${base}?$deltatoken=${encodeToken(d)}`;
  }
  body['value'] = value;
  return json(200, body);
}

function changesBetween(
  ctx: Ctx,
  kind: Kind,
  from: number,
  to: number,
): { ids: string[]; changes: Map<string, Change> } {
  let cache = changeCache.get(ctx.store);
  if (!cache) {
    cache = new Map();
    changeCache.set(ctx.store, cache);
  }
  const key = `${kind}:${from}:${to}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const changes = new Map<string, Change>();
  const log = ctx.store.log;
  const base = ctx.store.logBase;
  for (let i = Math.max(0, from - base); i < to - base && i < log.length; i++) {
    const e = log[i]!;
    if (e.kind !== kind) continue;
    let c = changes.get(e.id);
    if (!c) {
      c = { obj: false, props: new Set(), members: new Map() };
      changes.set(e.id, c);
    }
    if (e.memberId !== undefined) {
      const prev = c.members.get(e.memberId);
      const removed = e.removed === true;
      // An add then a remove inside one window nets out, and vice versa.
      if (prev && prev.removed !== removed) c.members.delete(e.memberId);
      else c.members.set(e.memberId, { kind: e.memberKind ?? 'user', removed });
    } else {
      c.obj = true;
      if (e.props === undefined) c.props = 'all';
      else if (c.props !== 'all') for (const p of e.props) c.props.add(p);
    }
  }
  const result = { ids: [...changes.keys()], changes };
  if (cache.size > 16) cache.clear();
  cache.set(key, result);
  return result;
}

function changesPage(ctx: Ctx, req: GraphRequest, kind: Kind, tok: ChangesToken, base: string): GraphResponse {
  const { store } = ctx;
  const minimal = /(^|[,;\s])return=minimal\b/i.test(req.headers['prefer'] ?? '');
  const { ids, changes } = changesBetween(ctx, kind, tok.from, tok.to);
  const wanted = tok.ids ? new Set(tok.ids) : undefined;
  const coll = store.collection(kind);
  const tracksMembers = tok.sel?.split(',').includes('members') ?? false;
  const value: Record<string, unknown>[] = [];
  let off = tok.off;
  while (off < ids.length && value.length < PAGE) {
    const id = ids[off++]!;
    if (wanted && !wanted.has(id)) continue;
    const c = changes.get(id)!;
    const o = coll.byId.get(id);
    if (!o) {
      // graph-facts §5: "changed" = soft-deleted (restorable), "deleted" = permanently gone.
      const reason = store.deleted.byId.has(id) ? 'changed' : 'deleted';
      value.push({ '@odata.type': schemas[kind].odataType, id, '@removed': { reason } });
      continue;
    }
    // delta-query-overview: with $select, a change to an unselected property doesn't surface the object.
    const selected = tok.sel?.split(',').filter((p) => p !== 'members');
    const relevant =
      c.obj &&
      (c.props === 'all' || (selected ? selected.some((p) => (c.props as Set<string>).has(p)) : c.props.size > 0));
    if (!relevant && !tracksMembers) continue;
    let item: Record<string, unknown>;
    if (!relevant) item = { id };
    else if (minimal && c.props !== 'all') {
      // user-delta: Prefer return=minimal sends only the changed properties, null for cleared ones.
      item = { id };
      const full = renderFull(ctx, o, { sel: selected?.join(',') ?? null, ids: null });
      for (const p of c.props) {
        if (selected && !selected.includes(p)) continue;
        if (p === 'manager') {
          item['manager@delta'] = full['manager@delta'] ?? [];
          continue;
        }
        if (!schemas[kind].properties.has(p) && !p.startsWith('extension_')) continue;
        item[p] = o.props[p] ?? null;
      }
    } else item = renderFull(ctx, o, { sel: selected?.join(',') ?? null, ids: null });
    if (tracksMembers && c.members.size > 0) {
      item['members@delta'] = [...c.members].map(([mid, m]) =>
        m.removed
          ? { '@odata.type': schemas[m.kind].odataType, id: mid, '@removed': { reason: 'deleted' } }
          : { '@odata.type': schemas[m.kind].odataType, id: mid },
      );
    }
    if (!relevant && item['members@delta'] === undefined) continue;
    value.push(item);
  }
  const body: Record<string, unknown> = { '@odata.context': `${req.base}/v1.0/$metadata#${schemas[kind].set}` };
  if (off < ids.length) body['@odata.nextLink'] = `${base}?$skiptoken=${encodeToken({ ...tok, off })}`;
  else
    body['@odata.deltaLink'] =
      `${base}?$deltatoken=${encodeToken({ g: tok.g, p: 'd', s: tok.to, t: req.now, sel: tok.sel, ids: tok.ids } satisfies DeltaToken)}`;
  body['value'] = value;
  return json(200, body, minimal ? { 'Preference-Applied': 'return=minimal' } : {});
}
