/** What every resource handler gets: the store, and the replication-lag view of it (graph-facts §8). */
import type { DirObject, Store } from './store.js';
import type { GraphRequest } from './http.js';
import { notFound } from './http.js';
import type { Kind } from './schema.js';
import type { RequestTap } from './tap.js';

export interface Ctx {
  store: Store;
  /** Replication lag in ms: a new object stays invisible to other requests this long (0 = off). */
  lagMs(): number;
  /** Counts writes; can freeze the tenant for a test (tap.ts). */
  tap?: RequestTap;
  /** Told of every write request (non-GET, also inside $batch), refused ones too: tests count them. */
  onWrite?: (write: { method: string; path: string; status: number }) => void;
}

/** A created object is visible to requests that arrive after its replication delay. */
export function visible(o: DirObject, req: GraphRequest): boolean {
  return o.visibleAt <= req.now;
}

/** A live, visible object of `kind` by id (users also by UPN), or the documented 404. */
export function findVisible(ctx: Ctx, req: GraphRequest, kind: Kind, key: string): DirObject {
  const coll = ctx.store.collection(kind);
  let o = coll.byId.get(key);
  if (!o && kind === 'user' && key.includes('@')) {
    const id = ctx.store.upns.get(key.toLowerCase());
    if (id) o = coll.byId.get(id);
  }
  if (!o || !visible(o, req)) throw notFound(key);
  return o;
}

/** Any directory object (user, group, contact) that is visible, or the 404. */
export function findAnyVisible(ctx: Ctx, req: GraphRequest, id: string): DirObject {
  const o = ctx.store.get(id);
  if (!o || !visible(o, req)) throw notFound(id);
  return o;
}

/** The object id at the end of an `@odata.id` / `@odata.bind` URL (…/directoryObjects/{id}). */
export function idFromReference(ref: unknown): string | undefined {
  if (typeof ref !== 'string') return undefined;
  const m =
    /\/(?:directoryObjects|users|groups|contacts|devices|servicePrincipals)\/([^/?#]+)\/?$/i.exec(ref) ??
    /^([0-9a-f-]{36})$/i.exec(ref);
  return m ? decodeURIComponent(m[1]!) : undefined;
}
