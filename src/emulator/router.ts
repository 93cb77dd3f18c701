/**
 * Routes one Graph request (from HTTPS or from inside a `$batch`) to its resource module, after faults, and
 * turns GraphErrors into Graph's error body. Authentication is checked by the server, once per HTTP request.
 */
import type { Ctx } from './context.js';
import { GraphError, errorResponse, type GraphRequest, type GraphResponse } from './http.js';
import type { FaultInjector } from './faults.js';
import { handleUsers } from './users.js';
import { handleGroups } from './groups.js';
import { handleApplications } from './applications.js';
import {
  handleContacts,
  handleDirectory,
  handleDirectoryObjects,
  handleDomains,
  handleOrganization,
} from './directory.js';
import { handleDelta } from './delta.js';
import { handleBatch } from './batch.js';
import { handleDirectoryRoles } from './roles.js';
import { checkPermissions } from './permissions.js';
import { handleSubscribedSkus } from './licenses.js';

let lastPurge = 0;
/** What a frozen tenant "answers": never sent (the server holds the request). */
const FROZEN: GraphResponse = { status: 503, headers: {}, body: undefined };

export function handleGraph(ctx: Ctx, faults: FaultInjector, req: GraphRequest): GraphResponse {
  let extra: Record<string, string> = {};
  // 30-day retention of deleted items (graph-facts §1), swept at most once a minute.
  if (req.now - lastPurge > 60_000) {
    lastPurge = req.now;
    ctx.store.purgeExpired(req.now);
  }
  try {
    const root = req.segments[0];
    if (root === '$batch') return handleBatch(req, (inner) => handleGraph(ctx, faults, inner));
    // A frozen tenant (tap.ts) runs nothing; the server holds the answer.
    if (ctx.tap && !ctx.tap.mayRun(req)) return FROZEN;
    extra = faults.check(req);
    // The token's roles must grant the request (graph-facts §9 Authorization_RequestDenied).
    checkPermissions(req, (id) => ctx.store.deleted.byId.get(id)?.kind);
    const res = dispatch(ctx, req);
    const dirtying = req.method !== 'GET';
    if (dirtying) {
      ctx.store.dirty = true;
      ctx.onWrite?.({ method: req.method, path: req.rawPath, status: res.status });
    }
    ctx.tap?.ran(req, res.status);
    res.headers = { ...extra, ...res.headers };
    return res;
  } catch (e) {
    if (e instanceof GraphError) {
      const res = errorResponse(req, e);
      if (req.method !== 'GET' && req.segments[0] !== '$batch')
        ctx.onWrite?.({ method: req.method, path: req.rawPath, status: res.status });
      res.headers = { ...extra, ...res.headers };
      return res;
    }
    throw e;
  }
}

function dispatch(ctx: Ctx, req: GraphRequest): GraphResponse {
  const [root, second] = req.segments;
  switch (root) {
    case 'users':
      if (second === 'delta' && req.segments.length === 2) return handleDelta(ctx, req, 'user');
      return handleUsers(ctx, req);
    case 'groups':
      if (second === 'delta' && req.segments.length === 2) return handleDelta(ctx, req, 'group');
      return handleGroups(ctx, req);
    case 'contacts':
      return handleContacts(ctx, req);
    case 'applications':
      return handleApplications(ctx, req);
    case 'directory':
      return handleDirectory(ctx, req);
    case 'directoryObjects':
      return handleDirectoryObjects(ctx, req);
    case 'organization':
      return handleOrganization(ctx, req);
    case 'domains':
      return handleDomains(ctx, req);
    case 'directoryRoles':
      return handleDirectoryRoles(ctx, req);
    case 'subscribedSkus':
      return handleSubscribedSkus(ctx, req);
    default:
      throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${root ?? ''}'.`);
  }
}
