/**
 * `$expand` on users and groups (issue 12 item 1), per DC:concepts/known-issues.md and the relationship docs
 * (graph-facts-2 §4.3): a user expands `manager` (nested `$select`; `$levels` only as an advanced query) and
 * `directReports`; a group expands `members` and `owners` (nested `$select`). Directory-object expansion
 * returns at most 20 related objects, one level, with no nextLink.
 */
import type { Ctx } from './context.js';
import { visible } from './context.js';
import { badRequest, type GraphRequest } from './http.js';
import { isAdvanced, parseSelect, render } from './query.js';
import { schemas } from './schema.js';
import type { DirObject } from './store.js';

/** known-issues: "$expand … returns a maximum of 20 objects" for directory objects. */
export const EXPAND_LIMIT = 20;

const NAVIGATIONS: Record<string, string[]> = {
  user: ['manager', 'directReports'],
  group: ['members', 'owners'],
  contact: [],
};

interface ExpandItem {
  name: string;
  select?: string[];
  levels?: string;
}

/** Splits `a($select=x,y),b` at top-level commas. */
export function parseExpand(raw: string, kind: DirObject['kind']): ExpandItem[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of raw) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  const type = schemas[kind].odataType.slice(1);
  return parts.map((p) => {
    const m = /^\s*([A-Za-z]+)\s*(?:\((.*)\))?\s*$/.exec(p);
    if (!m) throw badRequest(`Invalid $expand clause '${p}'.`);
    const name = m[1]!;
    if (!NAVIGATIONS[kind]!.includes(name))
      throw badRequest(`Could not find a property named '${name}' on type '${type}'.`);
    const item: ExpandItem = { name };
    for (const opt of (m[2] ?? '')
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)) {
      const [k, v] = opt.split('=').map((s) => s.trim());
      if (k === '$select' && v)
        item.select = v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
      else if (
        k === '$levels' &&
        v &&
        name === 'manager' &&
        (v === 'max' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 1000))
      )
        item.levels = v;
      else
        throw badRequest(
          `Query option '${k ?? opt}' is not supported inside $expand=${name}.`,
          'Request_UnsupportedQuery',
        );
    }
    return item;
  });
}

function renderRelated(
  ctx: Ctx,
  req: GraphRequest,
  o: DirObject,
  select: string[] | undefined,
): Record<string, unknown> {
  const schema = schemas[o.kind];
  const sel =
    select === undefined
      ? undefined
      : parseSelect(
          {
            ...req,
            query: new URLSearchParams({
              $select: select.filter((p) => schema.properties.has(p) || p.startsWith('extension_')).join(',') || 'id',
            }),
          },
          schema,
          ctx.store,
        );
  return { '@odata.type': schema.odataType, ...render(o, schema, sel) };
}

/** The expanded relationships of one object, as properties to merge into its rendering. */
export function expandOne(ctx: Ctx, req: GraphRequest, o: DirObject, items?: ExpandItem[]): Record<string, unknown> {
  const raw = req.query.get('$expand');
  if (raw === null) return {};
  const list = items ?? parseExpand(raw, o.kind);
  const { store } = ctx;
  const out: Record<string, unknown> = {};
  for (const it of list) {
    if (it.name === 'manager') {
      // user-list-manager: $levels needs ConsistencyLevel: eventual and $count=true.
      if (it.levels !== undefined && !isAdvanced(req)) {
        throw badRequest(
          "Operator '$levels' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
          'Request_UnsupportedQuery',
        );
      }
      const max = it.levels === undefined ? 1 : it.levels === 'max' ? 1000 : Number(it.levels);
      let cur: DirObject = o;
      let holder: Record<string, unknown> = out;
      const seen = new Set([o.id]);
      for (let level = 0; level < max; level++) {
        const mid = store.managers.get(cur.id);
        const m = mid === undefined ? undefined : store.get(mid);
        if (!m || !visible(m, req) || seen.has(m.id)) break;
        seen.add(m.id);
        const r = renderRelated(ctx, req, m, it.select);
        holder['manager'] = r;
        holder = r;
        cur = m;
      }
      continue;
    }
    const ids =
      it.name === 'directReports'
        ? store.reports.get(o.id)
        : it.name === 'members'
          ? store.members.get(o.id)
          : store.owners.get(o.id);
    const related: Record<string, unknown>[] = [];
    for (const id of ids ?? []) {
      if (related.length === EXPAND_LIMIT) break;
      const m = store.get(id);
      if (m && visible(m, req)) related.push(renderRelated(ctx, req, m, it.select));
    }
    out[it.name] = related;
  }
  return out;
}
