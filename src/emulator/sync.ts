/**
 * Objects mastered by Entra Connect (graph-facts-2 §1), the source-of-authority switch (§2) and the tenant's
 * directory synchronization settings (§3.2).
 *
 * - An object with `onPremisesSyncEnabled: true` is AD-mastered: PATCH of its AD-mastered properties and member
 *   changes of a synced group get 400 Request_BadRequest "Unable to update the specified properties for
 *   on-premises mastered Directory Sync objects or objects currently undergoing migration."; licences,
 *   usageLocation and cloud directory extensions stay writable; DELETE of a synced user is allowed.
 * - `…/onPremisesSyncBehavior` (user, group, orgContact): GET, and PATCH {isCloudManaged} → 200 with the object.
 *   true converts the object to cloud: onPremisesSyncEnabled becomes null and it is writable; false hands it
 *   back, and it stays writable until a sync client takes it over (no sync client runs here).
 * - GET/PATCH /directory/onPremisesSynchronization[/{id}]: the feature flags (blockCloudObjectTakeoverThroughHardMatchEnabled …).
 */
import type { Ctx } from './context.js';
import {
  badRequest,
  bodyObject,
  invalidValues,
  json,
  methodNotAllowed,
  notFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import type { DirObject, DirSyncConfig, Store } from './store.js';
import { EXTENSION_PROPERTY } from './schema.js';
import { isoSeconds } from './directory.js';

/** graph-facts-2 §1 (observed message, microsoft-graph-docs#7301, #18038). */
export const MASTERED_MESSAGE =
  'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';

export function masteredError(): ReturnType<typeof badRequest> {
  return badRequest(MASTERED_MESSAGE);
}

/** Converted by the source-of-authority switch, or carrying a last sync time: it came from AD once. */
export function previouslySynced(o: DirObject): boolean {
  return o.props['onPremisesSyncBehavior'] !== undefined || typeof o.props['onPremisesLastSyncDateTime'] === 'string';
}

export function isSynced(o: DirObject): boolean {
  return o.props['onPremisesSyncEnabled'] === true;
}

/** Properties a cloud client may still write on a synced user (graph-facts-2 §1 "Still writable"). */
const WRITABLE_ON_SYNCED = new Set(['usageLocation']);

/** Throws the directory-sync refusal when a PATCH body touches an AD-mastered property of a synced object. */
export function checkSyncedWrite(ctx: Ctx, o: DirObject, body: Record<string, unknown>): void {
  // user.md: for a cloud user previously synced, onPremisesExtensionAttributes are read-only in Graph
  // (managed in Exchange); graph-facts-2 §1 records the "external service" message for ex-synced users.
  if (!isSynced(o) && o.kind === 'user' && body['onPremisesExtensionAttributes'] !== undefined && previouslySynced(o)) {
    throw badRequest(
      'Unable to update the specified properties for objects that have originated within an external service.',
    );
  }
  if (!isSynced(o)) return;
  for (const key of Object.keys(body)) {
    if (key === '@odata.type') continue;
    if (WRITABLE_ON_SYNCED.has(key) && o.kind === 'user') continue;
    // A cloud extension (not synced from on-premises) isn't written by Entra Connect.
    if (EXTENSION_PROPERTY.test(key) && ctx.store.extensions.get(key)?.isSyncedFromOnPremises === false) continue;
    throw masteredError();
  }
}

const SOA_PERMISSION: Record<string, string> = {
  users: 'User-OnPremisesSyncBehavior.ReadWrite.All',
  groups: 'Group-OnPremisesSyncBehavior.ReadWrite.All',
  contacts: 'Contacts-OnPremisesSyncBehavior.ReadWrite.All',
};

/** The application permission onpremisessyncbehavior-get/-update list for this entity set. */
export function soaPermission(set: string): string | undefined {
  return SOA_PERMISSION[set];
}

export function isCloudManaged(o: DirObject): boolean {
  return (o.props['onPremisesSyncBehavior'] as { isCloudManaged?: boolean } | undefined)?.isCloudManaged === true;
}

/** GET/PATCH …/{id}/onPremisesSyncBehavior (DC beta onpremisessyncbehavior-get/-update; v1.0 per the Entra how-tos). */
export function handleSyncBehavior(ctx: Ctx, req: GraphRequest, o: DirObject, rest: string[]): GraphResponse {
  if (rest.length > 0) throw notFound(rest[0]!);
  const set = req.segments[0]!;
  const render = (): GraphResponse =>
    json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#${set}('${o.id}')/onPremisesSyncBehavior/$entity`,
      id: o.id,
      isCloudManaged: isCloudManaged(o),
    });
  if (req.method === 'GET') {
    if ([...req.query.keys()].some((k) => k.startsWith('$')))
      throw badRequest('Query parameters are not supported on onPremisesSyncBehavior.', 'Request_BadRequest');
    return render();
  }
  if (req.method !== 'PATCH') throw methodNotAllowed();
  const body = bodyObject(req);
  const keys = Object.keys(body).filter((k) => k !== '@odata.type');
  if (keys.some((k) => k !== 'isCloudManaged') || typeof body['isCloudManaged'] !== 'boolean') throw invalidValues();
  const want = body['isCloudManaged'];
  if (want === isCloudManaged(o)) return render();
  if (want) {
    // graph-facts-2 §2.3: converted → isCloudManaged true, onPremisesSyncEnabled null; onPremises* mirrors kept.
    o.props['onPremisesSyncBehavior'] = { isCloudManaged: true };
    delete o.props['onPremisesSyncEnabled'];
  } else {
    // Rolled back: isCloudManaged false, onPremisesSyncEnabled still null until the sync client takes the
    // object over (§2.5); no sync client runs against the emulator, so it stays cloud-writable.
    o.props['onPremisesSyncBehavior'] = { isCloudManaged: false };
  }
  ctx.store.logChange({ kind: o.kind, id: o.id, props: ['onPremisesSyncEnabled'] });
  return render();
}

const FEATURES = [
  'blockCloudObjectTakeoverThroughHardMatchEnabled',
  'blockSoftMatchEnabled',
  'bypassDirSyncOverridesEnabled',
  'cloudPasswordPolicyForPasswordSyncedUsersEnabled',
  'concurrentCredentialUpdateEnabled',
  'concurrentOrgIdProvisioningEnabled',
  'deviceWritebackEnabled',
  'directoryExtensionsEnabled',
  'fopeConflictResolutionEnabled',
  'groupWriteBackEnabled',
  'passwordSyncEnabled',
  'passwordWritebackEnabled',
  'quarantineUponProxyAddressesConflictEnabled',
  'quarantineUponUpnConflictEnabled',
  'softMatchOnUpnEnabled',
  'synchronizeUpnForManagedUsersEnabled',
  'unifiedGroupWritebackEnabled',
  'userForcePasswordChangeOnLogonEnabled',
  'userWritebackEnabled',
];
/** Once on, these can't be turned off (graph-facts-2 §3.2). */
const ONE_WAY = new Set(['softMatchOnUpnEnabled', 'synchronizeUpnForManagedUsersEnabled']);

function dirSync(ctx: Ctx): DirSyncConfig {
  const c = ctx.store.config;
  c.dirSync ??= { enabled: null, lastSyncDateTime: null, features: {}, alertThreshold: 500 };
  return c.dirSync;
}

function renderSync(ctx: Ctx): Record<string, unknown> {
  const s = dirSync(ctx);
  return {
    id: ctx.store.config.tenantId,
    configuration: {
      accidentalDeletionPrevention: {
        synchronizationPreventionType: 'enabledForCount',
        alertThreshold: s.alertThreshold,
      },
    },
    // Microsoft's sample output shows every flag false unless turned on (graph-facts-2 §3.2).
    features: Object.fromEntries(FEATURES.map((f) => [f, s.features[f] === true])),
  };
}

/** /directory/onPremisesSynchronization (onpremisesdirectorysynchronization-get / -update). */
export function handleOnPremisesSynchronization(ctx: Ctx, req: GraphRequest, id: string | undefined): GraphResponse {
  const tenant = ctx.store.config.tenantId;
  if (id !== undefined && id !== tenant) throw notFound(id);
  if (req.method === 'GET') {
    if (id === undefined)
      return json(200, {
        '@odata.context': `${req.base}/v1.0/$metadata#directory/onPremisesSynchronization`,
        value: [renderSync(ctx)],
      });
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#directory/onPremisesSynchronization/$entity`,
      ...renderSync(ctx),
    });
  }
  if (req.method !== 'PATCH' || id === undefined) throw methodNotAllowed();
  const body = bodyObject(req);
  const s = dirSync(ctx);
  const features = body['features'];
  if (features !== undefined) {
    if (features === null || typeof features !== 'object' || Array.isArray(features)) throw invalidValues();
    for (const [k, v] of Object.entries(features)) {
      if (k === '@odata.type') continue;
      if (!FEATURES.includes(k) || typeof v !== 'boolean') throw invalidValues();
      if (ONE_WAY.has(k) && s.features[k] === true && v === false) throw invalidValues();
      if (k === 'passwordWritebackEnabled') throw invalidValues(); // "not in use; updates not supported"
    }
    Object.assign(s.features, features);
    delete s.features['@odata.type'];
  }
  const conf = body['configuration'] as { accidentalDeletionPrevention?: { alertThreshold?: unknown } } | undefined;
  if (conf?.accidentalDeletionPrevention?.alertThreshold !== undefined) {
    const t = conf.accidentalDeletionPrevention.alertThreshold;
    if (!Number.isInteger(t) || (t as number) < 0) throw invalidValues();
    s.alertThreshold = t as number;
  }
  ctx.store.dirty = true;
  return { status: 204, headers: {} };
}

/** organization.onPremisesSyncEnabled / onPremisesLastSyncDateTime as the fixture set them. */
export function organizationSync(ctx: Ctx): {
  onPremisesSyncEnabled: boolean | null;
  onPremisesLastSyncDateTime: string | null;
} {
  const s = ctx.store.config.dirSync;
  return {
    onPremisesSyncEnabled: s?.enabled ?? null,
    onPremisesLastSyncDateTime: s?.enabled ? (s.lastSyncDateTime ?? isoSeconds(Date.now())) : null,
  };
}

/**
 * Test control, not Graph: what Entra Connect's next sync cycle does to the objects handed back to it
 * (graph-facts-2 §2.5: a rollback completes only after the API call and the next sync cycle). An object whose
 * source of authority was switched back (isCloudManaged false, onPremisesSyncEnabled null) is taken over by the
 * sync client again — for users only while blockCloudObjectTakeoverThroughHardMatchEnabled is off (the
 * user how-to: the flag blocks switching the source of authority back; Connect's hard match fails instead).
 */
export function runSyncCycle(store: Store, now: number): { tookOver: string[]; blocked: string[] } {
  const tookOver: string[] = [];
  const blocked: string[] = [];
  const block = store.config.dirSync?.features['blockCloudObjectTakeoverThroughHardMatchEnabled'] === true;
  for (const coll of [store.users, store.groups]) {
    for (const o of [...coll.byId.values()]) {
      const behavior = o.props['onPremisesSyncBehavior'] as { isCloudManaged?: boolean } | undefined;
      if (behavior?.isCloudManaged !== false || isSynced(o)) continue;
      if (o.kind === 'user' && block) {
        blocked.push(o.id);
        continue;
      }
      coll.indexRemove(o);
      o.props['onPremisesSyncEnabled'] = true;
      o.props['onPremisesLastSyncDateTime'] = isoSeconds(now);
      coll.indexAdd(o);
      store.logChange({ kind: o.kind, id: o.id, props: ['onPremisesSyncEnabled', 'onPremisesLastSyncDateTime'] });
      tookOver.push(o.id);
    }
  }
  store.dirty = true;
  return { tookOver: tookOver.sort(), blocked: blocked.sort() };
}
