/**
 * POST /v1.0/$batch (graph-facts §6): at most 20 requests, unique case-insensitive ids, `dependsOn` with 424
 * for dependents of a failed request, one status and body per request, matched by id. Each inner request
 * passes through faults and throttling on its own.
 */
import { GraphError, badRequest, JSON_TYPE, newRequestId, type GraphRequest, type GraphResponse } from './http.js';

export const BATCH_LIMIT = 20;

interface InnerRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  dependsOn: string[];
}

/** Parses the request URL of an inner request relative to /v1.0. */
export function splitUrl(url: string): { rawPath: string; segments: string[]; query: URLSearchParams } {
  const rel = url.replace(/^https:\/\/[^/]+/i, '').replace(/^\/?(v1\.0\/)?/, '/');
  const q = rel.indexOf('?');
  const rawPath = q < 0 ? rel : rel.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : rel.slice(q + 1));
  const segments = rawPath
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  return { rawPath: rawPath.replace(/\/$/, ''), segments, query };
}

function parse(body: unknown): InnerRequest[] {
  const requests = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw badRequest('Invalid batch payload format.', 'BadRequest');
  if (requests.length > BATCH_LIMIT)
    throw badRequest(`The number of requests in the batch exceeds the limit of ${BATCH_LIMIT}.`, 'BadRequest');
  const seen = new Set<string>();
  const out: InnerRequest[] = [];
  for (const r of requests as Record<string, unknown>[]) {
    const id = r['id'];
    const method = r['method'];
    const url = r['url'];
    if (typeof id !== 'string' || id.length === 0 || typeof method !== 'string' || typeof url !== 'string') {
      throw badRequest('Invalid batch payload format.', 'BadRequest');
    }
    if (seen.has(id.toLowerCase())) throw badRequest(`Batch request contains a duplicate id '${id}'.`, 'BadRequest');
    seen.add(id.toLowerCase());
    const headers: Record<string, string> = {};
    if (r['headers'] && typeof r['headers'] === 'object') {
      for (const [k, v] of Object.entries(r['headers'] as Record<string, unknown>))
        headers[k.toLowerCase()] = String(v);
    }
    if (r['body'] !== undefined && headers['content-type'] === undefined) {
      throw badRequest(`Request '${id}' has a body but no Content-Type header.`, 'BadRequest');
    }
    const dependsOn = Array.isArray(r['dependsOn']) ? (r['dependsOn'] as unknown[]).map(String) : [];
    out.push({ id, method: method.toUpperCase(), url, headers, body: r['body'], dependsOn });
  }
  const ids = new Set(out.map((r) => r.id.toLowerCase()));
  for (const r of out)
    for (const d of r.dependsOn) {
      if (!ids.has(d.toLowerCase()) || d.toLowerCase() === r.id.toLowerCase())
        throw badRequest(`Request '${r.id}' depends on unknown request '${d}'.`, 'BadRequest');
    }
  return out;
}

export function handleBatch(outer: GraphRequest, run: (req: GraphRequest) => GraphResponse): GraphResponse {
  if (outer.method !== 'POST')
    throw new GraphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
  const requests = parse(outer.body);
  const done = new Map<string, number>(); // lower-cased id → status
  const responses: Record<string, unknown>[] = [];
  let pending = requests;
  while (pending.length > 0) {
    const next: InnerRequest[] = [];
    let progressed = false;
    for (const r of pending) {
      if (!r.dependsOn.every((d) => done.has(d.toLowerCase()))) {
        next.push(r);
        continue;
      }
      progressed = true;
      const failedDep = r.dependsOn.find((d) => (done.get(d.toLowerCase()) ?? 0) >= 400);
      if (failedDep !== undefined) {
        done.set(r.id.toLowerCase(), 424);
        responses.push({
          id: r.id,
          status: 424,
          headers: { 'Content-Type': 'application/json' },
          body: {
            error: {
              code: 'FailedDependency',
              message: `The request depends on request '${failedDep}', which failed.`,
            },
          },
        });
        continue;
      }
      const { rawPath, segments, query } = splitUrl(r.url);
      const inner: GraphRequest = {
        method: r.method,
        segments,
        rawPath,
        query,
        headers: r.headers,
        body: r.body,
        requestId: newRequestId(),
        clientRequestId: r.headers['client-request-id'],
        now: outer.now,
        base: outer.base,
        ...(outer.roles !== undefined ? { roles: outer.roles } : {}),
      };
      const res =
        segments[0] === '$batch'
          ? {
              status: 400,
              headers: {},
              body: { error: { code: 'BadRequest', message: 'Nested batch requests are not supported.' } },
            }
          : run(inner);
      done.set(r.id.toLowerCase(), res.status);
      const headers: Record<string, string> = { ...res.headers };
      if (res.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['Content-Type'] = JSON_TYPE;
      const item: Record<string, unknown> = { id: r.id, status: res.status, headers };
      if (res.body !== undefined) item['body'] = res.body;
      responses.push(item);
    }
    if (!progressed) throw badRequest('The dependsOn graph of the batch has a cycle.', 'BadRequest');
    pending = next;
  }
  return { status: 200, headers: {}, body: { responses } };
}
