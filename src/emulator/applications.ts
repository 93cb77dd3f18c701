/**
 * /applications (graph-facts §11): the emulator's own app registration, readable with
 * `$filter=appId eq '…'`, and its directory extensions (`extension_<appIdNoHyphens>_<name>`).
 */
import { randomUUID } from 'node:crypto';
import type { Ctx } from './context.js';
import {
  badRequest,
  bodyObject,
  invalidValues,
  json,
  methodNotAllowed,
  noContent,
  notFound,
  segmentNotFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { contextUrl, parseTop, checkUnsupportedOptions } from './query.js';
import { evaluate, FilterSyntaxError, parseFilter } from './odata.js';
import type { Application } from './store.js';
import { publicExtension } from './directory.js';

const DATA_TYPES = ['Binary', 'Boolean', 'DateTime', 'Integer', 'LargeInteger', 'String'];
const TARGETS = ['User', 'Group', 'AdministrativeUnit', 'Application', 'Device', 'Organization'];

function renderApp(a: Application): Record<string, unknown> {
  return {
    id: a.id,
    appId: a.appId,
    displayName: a.displayName,
    createdDateTime: a.createdDateTime,
    deletedDateTime: null,
    signInAudience: 'AzureADMyOrg',
    identifierUris: [],
    tags: [],
    // Secrets are never readable; Graph shows only hints, and the emulator shows none.
    passwordCredentials: [],
  };
}

export function handleApplications(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const [, key, rel, relId] = req.segments;
  if (key === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed();
    checkUnsupportedOptions(req);
    const top = parseTop(req);
    const raw = req.query.get('$filter');
    let apps = [...store.applications.values()];
    if (raw !== null) {
      let node;
      try {
        node = parseFilter(raw);
      } catch (e) {
        if (e instanceof FilterSyntaxError) throw badRequest(`Invalid filter clause: ${e.message}`);
        throw e;
      }
      apps = apps.filter((a) => evaluate(node, (p) => renderApp(a)[p] ?? null));
    }
    return json(200, {
      '@odata.context': contextUrl(req, 'applications', undefined),
      value: apps.slice(0, top).map(renderApp),
    });
  }
  const app = store.applications.get(key);
  if (!app) throw notFound(key);
  if (rel === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed();
    return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#applications/$entity`, ...renderApp(app) });
  }
  if (rel !== 'extensionProperties') throw segmentNotFound(rel);
  const mine = (): ReturnType<typeof publicExtension>[] =>
    [...store.extensions.values()].filter((e) => e.appObjectId === app.id).map(publicExtension);
  if (relId === undefined) {
    if (req.method === 'GET')
      return json(200, {
        '@odata.context': `${req.base}/v1.0/$metadata#applications('${app.id}')/extensionProperties`,
        value: mine(),
      });
    if (req.method !== 'POST') throw methodNotAllowed();
    const body = bodyObject(req);
    const name = body['name'];
    const dataType = body['dataType'];
    const targetObjects = body['targetObjects'];
    if (typeof name !== 'string' || !/^[A-Za-z0-9_]{1,120}$/.test(name)) throw invalidValues();
    if (typeof dataType !== 'string' || !DATA_TYPES.includes(dataType)) throw invalidValues();
    if (
      !Array.isArray(targetObjects) ||
      targetObjects.length === 0 ||
      !targetObjects.every((t) => typeof t === 'string' && TARGETS.includes(t))
    )
      throw invalidValues();
    const full = `extension_${app.appId.replace(/-/g, '')}_${name}`;
    if (store.extensions.has(full)) {
      throw badRequest(`Property ${full} already exists on the object.`, 'Request_MultipleObjectsWithSameKeyValue');
    }
    const ext = {
      id: randomUUID(),
      name: full,
      dataType,
      isMultiValued: body['isMultiValued'] === true,
      isSyncedFromOnPremises: false,
      targetObjects: targetObjects as string[],
      appDisplayName: app.displayName,
      appObjectId: app.id,
    };
    store.registerExtension(ext);
    store.dirty = true;
    return json(201, {
      '@odata.context': `${req.base}/v1.0/$metadata#applications('${app.id}')/extensionProperties/$entity`,
      ...publicExtension(ext),
    });
  }
  const ext = [...store.extensions.values()].find((e) => e.id === relId && e.appObjectId === app.id);
  if (!ext) throw notFound(relId);
  if (req.method === 'GET')
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#applications('${app.id}')/extensionProperties/$entity`,
      ...publicExtension(ext),
    });
  if (req.method === 'DELETE') {
    store.extensions.delete(ext.name);
    store.dirty = true;
    return noContent();
  }
  throw methodNotAllowed();
}
