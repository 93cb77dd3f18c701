/**
 * Writes a plan's changes to Graph, one change's step at a time, for the apply loop (src/apply/loop.ts), which
 * runs them in dependency order: user deletes → updates → restores → creates and adoptions → references →
 * memberships (member and group ids from the plan, or from creates) → group deletes.
 * Every request goes through the $batch queue (packing, concurrency, throttling, retries). A write's response
 * is authoritative: ids come from create responses, nothing is re-read to verify. A failed change is recorded
 * with its object, operation and Graph's message, and independent changes carry on; changes that depend on a
 * failed one are skipped with the reason.
 *
 * Idempotent on re-runs: "already a member" on add and 404 on remove or delete count as done, and a create
 * that collides with an object carrying the same adsync anchor adopts that object (a killed apply's create).
 */
import { attributesDigest, isObjectRef } from '../../model/change.js';
import type {
  AddMembersChange,
  AdoptChange,
  ReleaseChange,
  TakeoverChange,
  AttributeChange,
  Change,
  CreateChange,
  DeleteChange,
  LicensesChange,
  MemberRef,
  RemoveMembersChange,
  RestoreChange,
  UpdateChange,
} from '../../model/change.js';
import type { Plan } from '../../model/plan.js';
import { TargetError } from '../../errors.js';
import { BatchQueue } from './batch.js';
import type { BatchTransport, QueueOptions, SubResponse } from './batch.js';
import type { WriteBudget } from './budget.js';
import { randomPassword } from './password.js';
import { applyLicenseChange, type LicenseApplyContext } from './licenses.js';
import { applySourceOfAuthority } from './takeover.js';
import type { ApplyOptions, ApplyResult } from '../../model/apply.js';
import type { ApplyReporter, ApplyStep, TargetApply, TargetApplyStats } from '../../model/target.js';
import {
  adsyncExtensionOf,
  ANCHOR_EXTENSION_NAME,
  DIGEST_EXTENSION_NAME,
  extensionName as fullExtensionName,
  siblingExtension,
} from '../../model/extension.js';

export { ANCHOR_EXTENSION_NAME, DIGEST_EXTENSION_NAME } from '../../model/extension.js';

/** Reference attributes are set through their own `$ref` endpoint, not in the PATCH body. */
const REFERENCE_ATTRIBUTES = new Set(['manager']);

/** What the executor needs from the Entra connector. */
export interface ApplyContext {
  transport: BatchTransport;
  /** Absolute URL of a directory object for `@odata.bind` / `@odata.id`. */
  directoryObjectUrl(id: string): string;
  /** The full name of adsync's anchor extension, when it exists. */
  anchorProperty: string | undefined;
  /** adsync's application (to register the anchor extension on), when known. */
  application: { objectId: string; appId: string } | undefined;
  /** Called when the executor registered the anchor extension. */
  onAnchorProperty?(name: string): void;
  /** Full names of adsync's directory extensions known to exist (e.g. the disable-first mark). */
  knownExtensions?: ReadonlySet<string>;
  /** Called when the executor registered another of adsync's extensions. */
  onExtension?(name: string): void;
  writeBudget: WriteBudget | null;
  queue?: Omit<QueueOptions, 'concurrency' | 'writeBudget'>;
}

const MEMBERS_PER_PATCH = 20;
const ALREADY_MEMBER = /added object references already exist/i;

interface GraphErrorBody {
  error?: { code?: string; message?: string; details?: { code?: string; target?: string }[] };
}

function errorOf(res: SubResponse): GraphErrorBody['error'] {
  const b = res.body as GraphErrorBody | undefined;
  return b !== null && typeof b === 'object' ? b.error : undefined;
}

/** `400 Request_BadRequest: Another object with the same value …` */
export function describeResponse(res: SubResponse): string {
  const e = errorOf(res);
  const code = e?.code ?? (res.status === -1 ? 'NetworkError' : 'Error');
  const message = e?.message ?? (typeof res.body === 'string' ? res.body : 'no error message');
  const conflict = e?.details?.find((d) => d.code === 'ObjectConflict' && d.target !== undefined);
  return `${res.status} ${code}: ${message}${conflict !== undefined ? ` (conflict on ${conflict.target})` : ''}`;
}

function isConflict(res: SubResponse): boolean {
  if (res.status !== 400 && res.status !== 409) return false;
  const e = errorOf(res);
  return (
    e?.code === 'Request_MultipleObjectsWithSameKeyValue' ||
    (e?.details ?? []).some((d) => d.code === 'ObjectConflict') ||
    /another object with the same value/i.test(e?.message ?? '')
  );
}

const ok = (res: SubResponse): boolean => res.status >= 200 && res.status < 300;

/**
 * The body of a create or update: the planned values as Graph wants them (`after` absent = clear).
 * `a.b` names a member of a complex property (onPremisesExtensionAttributes.extensionAttribute1); reference
 * attributes (manager) are left out: they are written through `$ref` afterwards.
 */
export function attributesBody(attributes: readonly AttributeChange[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const a of attributes) {
    if (REFERENCE_ATTRIBUTES.has(a.name)) continue;
    const value = a.after === undefined ? null : a.after;
    const dot = a.name.indexOf('.');
    if (dot < 0) {
      body[a.name] = value;
      continue;
    }
    const outer = a.name.slice(0, dot);
    const nested = (body[outer] ??= {}) as Record<string, unknown>;
    nested[a.name.slice(dot + 1)] = value;
  }
  return body;
}

/** The reference attributes of a change, for phase 2. */
function referenceAttributes(attributes: readonly AttributeChange[]): AttributeChange[] {
  return attributes.filter((a) => REFERENCE_ATTRIBUTES.has(a.name));
}

function collection(kind: Change['kind']): 'users' | 'groups' | undefined {
  return kind === 'user' ? 'users' : kind === 'group' ? 'groups' : undefined;
}

function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Changes of one step in flight: many per `$batch` request, fewer for memberships (each may be 20 writes). */
export function entraWidth(step: ApplyStep, concurrency: number): number {
  const width = concurrency * MEMBERS_PER_PATCH * 2;
  // Restores one at a time: the plan checked each against the ones before it (diff.ts, held restores).
  return step === 'restore' ? 1 : step === 'members' ? Math.max(1, Math.floor(width / 4)) : width;
}

/**
 * Begins an apply of `plan` (Entra's changes) for the apply loop: registers the extensions the plan needs and
 * looks up planned group creates by anchor, then applies one change's step at a time (see Target.begin).
 */
export async function beginEntraApply(
  ctx: ApplyContext,
  plan: Pick<Plan, 'changes' | 'prerequisites'>,
  options: ApplyOptions,
  report: ApplyReporter,
): Promise<TargetApply> {
  const concurrency = options.concurrency ?? 4;
  const queue = new BatchQueue(ctx.transport, {
    ...ctx.queue,
    concurrency,
    writeBudget: options.writeBudget !== undefined ? options.writeBudget : ctx.writeBudget,
  });
  /** Changes that reported a failure or a skip (a membership change's outcome). */
  const failedChanges = new Set<Change>();
  const skippedChanges = new Set<Change>();
  /** anchor → id, for objects this run created or restored. */
  const createdIds = new Map<string, string>();
  /** Anchors whose create or restore failed (dependent changes are skipped). */
  const failedAnchors = new Set<string>();
  /** Groups whose takeover failed: still the sync client's, so their membership changes are skipped. */
  const takeoverFailed = new Set<string>();
  /** Restored users' memberships, and `groupId memberId` of those a restore brought back and kept. */
  const restoredMemberships: NonNullable<ApplyResult['restoredMemberships']> = [];
  const restoredIn = new Set<string>();
  /** Ids written moments ago: reads and references to them may hit replication lag. */
  const fresh = new Set<string>();
  const finish = report.finish;
  const fail = (change: Change, operation: string, message: string): void => {
    failedChanges.add(change);
    report.fail(change, operation, message);
  };
  const skip = (change: Change, reason: string): void => {
    skippedChanges.add(change);
    report.skip(change, reason);
  };

  // The anchor extension must exist before anything is created: an object created without it would not be
  // adsync's, and the next plan would see a collision instead of the object.
  let anchorProperty = ctx.anchorProperty;
  let extensionJustCreated = false;
  // The plan's prerequisites first (src/engine/stages/prerequisites.ts): the extensions its changes use that the
  // tenant lacked when it was planned. Registering is idempotent. (A plan made before adsync listed them has
  // none: the checks below register what its changes use.)
  for (const p of plan.prerequisites ?? []) {
    if (p.target !== 'entra') continue;
    if (p.name === DIGEST_EXTENSION_NAME) {
      // drift detection is a nicety: never fail an apply for it (as below)
      const digest = await ensureExtension(queue, ctx, p.name).catch(() => undefined);
      if (digest !== undefined) ctx.onExtension?.(digest);
    } else if (p.name !== ANCHOR_EXTENSION_NAME) ctx.onExtension?.(await ensureExtension(queue, ctx, p.name));
    else if (anchorProperty === undefined) {
      anchorProperty = await ensureAnchorProperty(queue, ctx);
      extensionJustCreated = true;
      ctx.onAnchorProperty?.(anchorProperty);
    }
  }
  if (
    anchorProperty === undefined &&
    plan.changes.some((c) => c.action === 'create' || c.action === 'adopt' || c.action === 'takeover')
  ) {
    anchorProperty = await ensureAnchorProperty(queue, ctx);
    extensionJustCreated = true;
    ctx.onAnchorProperty?.(anchorProperty);
  }
  const anchorProp = anchorProperty;
  // Right after registration the extension may not be known everywhere yet (eventual consistency).
  const extensionLag = (res: SubResponse): boolean =>
    extensionJustCreated &&
    res.status === 400 &&
    anchorProp !== undefined &&
    (errorOf(res)?.message ?? '').includes(anchorProp);

  // Other adsync extensions a plan writes (the disable-first mark) are registered before the first write.
  const extensionsUsed = new Set<string>();
  // The digest extension is registered the first time a plan writes digests.
  const digestName = anchorProperty === undefined ? undefined : siblingExtension(anchorProperty, DIGEST_EXTENSION_NAME);
  let digestProp: string | undefined =
    digestName !== undefined && ctx.knownExtensions?.has(digestName) === true ? digestName : undefined;
  if (
    plan.changes.some(
      (c) =>
        c.action === 'create' ||
        ((c.action === 'update' || c.action === 'restore' || c.action === 'adopt' || c.action === 'takeover') &&
          c.digest !== undefined),
    ) &&
    digestProp === undefined &&
    ctx.application !== undefined
  ) {
    try {
      digestProp = await ensureExtension(queue, ctx, DIGEST_EXTENSION_NAME);
      ctx.onExtension?.(digestProp);
    } catch {
      digestProp = undefined; // drift detection is a nicety: never fail an apply for it
    }
  }
  const withDigest = (
    body: Record<string, unknown>,
    change: { action: string; digest?: string; attributes: readonly AttributeChange[] },
  ): Record<string, unknown> => {
    // A create's attributes are all of its flowed values: its digest is computed here, not in the plan.
    // (references are set later through $ref: the digest leaves them out, as the plan's desiredDigest does)
    const digest =
      change.digest ??
      (change.action === 'create'
        ? attributesDigest(
            change.attributes.filter((a) => !REFERENCE_ATTRIBUTES.has(a.name)).map((a) => [a.name, a.after] as const),
          )
        : undefined);
    if (digestProp !== undefined && digest !== undefined) body[digestProp] = digest;
    return body;
  };

  for (const c of plan.changes) {
    if (c.action !== 'update' && c.action !== 'restore') continue;
    for (const a of c.attributes) {
      const own = adsyncExtensionOf(a.name);
      if (own !== undefined && a.name !== anchorProperty && ctx.knownExtensions?.has(a.name) !== true)
        extensionsUsed.add(own);
    }
  }
  for (const name of extensionsUsed) ctx.onExtension?.(await ensureExtension(queue, ctx, name));

  async function deleteOne(change: DeleteChange): Promise<void> {
    {
      {
        const coll = collection(change.kind);
        if (coll === undefined) {
          fail(change, `delete ${change.kind}`, `${change.kind} objects are read-only in Microsoft Graph`);
          finish(change, 'failed');
          return;
        }
        const res = await queue.submit({ method: 'DELETE', url: `/${coll}/${change.id}` });
        if (ok(res) || res.status === 404) finish(change, 'applied');
        else {
          fail(change, `delete ${change.kind}`, describeResponse(res));
          finish(change, 'failed');
        }
      }
    }
  }

  const phase1 = plan.changes.filter(
    (c): c is CreateChange | RestoreChange | UpdateChange | AdoptChange =>
      c.action === 'create' || c.action === 'restore' || c.action === 'update' || c.action === 'adopt',
  );
  // Security groups have no unique key Graph would refuse a second create on, so a re-applied plan would
  // duplicate them: look planned group creates up by anchor first (15 per request, reads are cheap).
  const existingGroups =
    anchorProp === undefined || extensionJustCreated
      ? new Map<string, string>()
      : await findByAnchors(
          queue,
          'groups',
          anchorProp,
          phase1.filter((c) => c.action === 'create' && c.kind === 'group').map((c) => c.anchor),
        );
  const runPhase1 = async (
    change: CreateChange | RestoreChange | UpdateChange | AdoptChange | TakeoverChange | ReleaseChange,
  ): Promise<void> => {
    const coll = collection(change.kind);
    if (coll === undefined) {
      fail(change, `${change.action} ${change.kind}`, `${change.kind} objects are read-only in Microsoft Graph`);
      if (change.action !== 'update') failedAnchors.add(change.anchor);
      finish(change, 'failed');
      return;
    }
    switch (change.action) {
      case 'create': {
        const id = await create(change, coll);
        if (id === undefined) {
          failedAnchors.add(change.anchor);
          finish(change, 'failed');
        } else {
          createdIds.set(change.anchor, id);
          fresh.add(id);
          finish(change, 'applied', id);
        }
        return;
      }
      case 'adopt': {
        // Stamping the anchor is what makes the object adsync's; the flowed attributes go in the same PATCH.
        if (anchorProp === undefined) {
          fail(change, `adopt ${change.kind}`, "adsync's anchor extension is missing");
          failedAnchors.add(change.anchor);
          finish(change, 'failed');
          return;
        }
        const body = withDigest(attributesBody(change.attributes), change);
        body[anchorProp] = change.anchor;
        const res = await queue.submit(
          { method: 'PATCH', url: `/${coll}/${change.id}`, body },
          { retryIf: extensionLag },
        );
        if (!ok(res)) {
          fail(change, `adopt ${change.kind}`, describeResponse(res));
          failedAnchors.add(change.anchor);
          finish(change, 'failed');
          return;
        }
        createdIds.set(change.anchor, change.id);
        finish(change, 'applied', change.id);
        return;
      }
      case 'takeover':
      case 'release': {
        // src/connectors/entra/takeover.ts: switch the source of authority, verify (Graph's answer, then a
        // read), then write adsync's anchor and the attributes (takeover) or remove the anchor (release).
        const failed = await applySourceOfAuthority(change, {
          submit: (req, opts) => queue.submit(req, opts),
          coll,
          anchorProperty: anchorProp,
          digestProperty: digestProp,
          attributesBody: () =>
            change.action === 'takeover' ? withDigest(attributesBody(change.attributes), change) : {},
          extensionLag,
          describe: describeResponse,
        });
        if (failed !== undefined) {
          fail(change, `${change.action} ${change.kind}`, failed);
          failedAnchors.add(change.anchor);
          if (change.action === 'takeover') takeoverFailed.add(change.anchor);
          finish(change, 'failed');
          return;
        }
        if (change.action === 'takeover') createdIds.set(change.anchor, change.id);
        finish(change, 'applied', change.id);
        return;
      }
      case 'restore': {
        const res = await queue.submit({
          method: 'POST',
          url: `/directory/deletedItems/${change.id}/restore`,
          body: {},
        });
        if (!ok(res)) {
          fail(change, `restore ${change.kind}`, describeResponse(res));
          failedAnchors.add(change.anchor);
          finish(change, 'failed');
          return;
        }
        createdIds.set(change.anchor, change.id);
        fresh.add(change.id);
        const restoreBody = withDigest(attributesBody(change.attributes), change);
        if (Object.keys(restoreBody).length > 0) {
          const upd = await queue.submit(
            { method: 'PATCH', url: `/${coll}/${change.id}`, body: restoreBody },
            { mayLag: true },
          );
          if (!ok(upd)) {
            fail(change, `update restored ${change.kind}`, describeResponse(upd));
            finish(change, 'failed', change.id);
            return;
          }
        }
        if (
          change.kind === 'user' &&
          change.memberships !== undefined &&
          anchorProp !== undefined &&
          !(await pruneRestoredMemberships(change, anchorProp))
        ) {
          finish(change, 'failed', change.id);
          return;
        }
        finish(change, 'applied', change.id);
        return;
      }
      case 'update': {
        const body = withDigest(attributesBody(change.attributes), change);
        if (Object.keys(body).length === 0) {
          finish(change, 'applied');
          return;
        }
        const res = await queue.submit(
          { method: 'PATCH', url: `/${coll}/${change.id}`, body },
          { mayLag: fresh.has(change.id) },
        );
        if (ok(res)) finish(change, 'applied');
        else {
          fail(change, `update ${change.kind}`, describeResponse(res));
          finish(change, 'failed');
        }
        return;
      }
    }
  };
  /**
   * Graph restores a user into the groups it was in when deleted; AD's reanimated object is in none of them.
   * Reads the user's memberOf and removes it from adsync's groups (by anchor) the restore doesn't keep it in;
   * the groups it stays in are noted, so a planned add of it there is done already. False when a step failed.
   */
  async function pruneRestoredMemberships(change: RestoreChange, anchorProperty: string): Promise<boolean> {
    const keep = new Set((change.memberships ?? []).map((g) => g.anchor));
    const groupIds: string[] = [];
    let url: string | undefined = `/users/${change.id}/memberOf?$select=id&$top=999`;
    while (url !== undefined) {
      const res = await queue.submit({ method: 'GET', url }, { mayLag: true });
      if (!ok(res)) {
        fail(change, `read the group memberships of restored user ${change.label}`, describeResponse(res));
        return false;
      }
      const body = res.body as { value?: Record<string, unknown>[]; '@odata.nextLink'?: string } | undefined;
      // memberOf lists directory roles and administrative units too.
      for (const o of body?.value ?? [])
        if (o['@odata.type'] === '#microsoft.graph.group' && typeof o['id'] === 'string') groupIds.push(o['id']);
      const next = body?.['@odata.nextLink'];
      url = typeof next === 'string' ? next.replace(/^https?:\/\/[^/]+\/v1\.0/, '') : undefined;
    }
    // Which of them are adsync's: they carry its anchor (read per group: memberOf's $select covers only the
    // properties of directoryObject).
    const groups: { id: string; anchor: string }[] = [];
    let readOk = true;
    await Promise.all(
      groupIds.map(async (gid) => {
        const res = await queue.submit({ method: 'GET', url: `/groups/${gid}?$select=id,${anchorProperty}` });
        if (res.status === 404) return;
        if (!ok(res)) {
          readOk = false;
          fail(change, `read group ${gid} of restored user ${change.label}`, describeResponse(res));
          return;
        }
        const a = (res.body as Record<string, unknown> | undefined)?.[anchorProperty];
        if (typeof a === 'string') groups.push({ id: gid, anchor: a });
      }),
    );
    if (!readOk) return false;
    const entry = { anchor: change.anchor, id: change.id, removed: [] as string[], kept: [] as string[] };
    restoredMemberships.push(entry);
    let okAll = true;
    await Promise.all(
      groups.map(async (g) => {
        if (keep.has(g.anchor)) {
          entry.kept.push(g.id);
          restoredIn.add(`${g.id} ${change.id}`);
          return;
        }
        entry.removed.push(g.id);
        const res = await queue.submit(
          { method: 'DELETE', url: `/groups/${g.id}/members/${change.id}/$ref` },
          { mayLag: true },
        );
        if (ok(res) || res.status === 404) return;
        okAll = false;
        fail(
          change,
          `remove restored user ${change.label} from group ${g.id} (AD does not list it)`,
          describeResponse(res),
        );
      }),
    );
    entry.removed.sort();
    entry.kept.sort();
    return okAll;
  }

  async function create(change: CreateChange, coll: 'users' | 'groups'): Promise<string | undefined> {
    if (anchorProp === undefined) {
      fail(change, `create ${change.kind}`, "adsync's anchor extension is missing");
      return undefined;
    }
    const existing = existingGroups.get(change.anchor);
    if (change.kind === 'group' && existing !== undefined) return existing;
    const body = withDigest(attributesBody(change.attributes), change);
    body[anchorProp] = change.anchor;
    if (change.kind === 'user')
      body['passwordProfile'] = { password: randomPassword(), forceChangePasswordNextSignIn: true };
    const res = await queue.submit({ method: 'POST', url: `/${coll}`, body }, { retryIf: extensionLag });
    if (ok(res)) {
      const id = (res.body as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string') return id;
      fail(change, `create ${change.kind}`, `${res.status}: Graph returned no id`);
      return undefined;
    }
    if (isConflict(res)) {
      // A create that collides with our own object (same anchor) is a create that already happened:
      // a killed or retried apply. Adopt it; anything else is a real conflict.
      const found = await queue.submit({
        method: 'GET',
        url: `/${coll}?$filter=${encodeURIComponent(`${anchorProp} eq ${odataString(change.anchor)}`)}&$select=id`,
      });
      const value = ok(found) ? (found.body as { value?: { id?: string }[] } | undefined)?.value : undefined;
      const existing = value?.[0]?.id;
      if (existing !== undefined) return existing;
    }
    fail(change, `create ${change.kind}`, describeResponse(res));
    return undefined;
  }

  /** The reference attributes (manager) of a change, now that every object of the steps before exists. */
  async function setReferences(
    change: CreateChange | RestoreChange | UpdateChange | AdoptChange | TakeoverChange,
  ): Promise<void> {
    for (const attribute of referenceAttributes(change.attributes)) await setReference(change, attribute);
  }
  async function setReference(
    change: CreateChange | RestoreChange | UpdateChange | AdoptChange | TakeoverChange,
    attribute: AttributeChange,
  ): Promise<void> {
    {
      const id = change.action === 'create' ? createdIds.get(change.anchor) : change.id;
      if (id === undefined || failedAnchors.has(change.anchor)) return; // the create failed and was reported
      const ref = isObjectRef(attribute.after) ? attribute.after : undefined;
      if (ref === undefined) {
        // 404 naming the reference ("Resource 'manager' does not exist") means it is clear already (a restored
        // user comes back without one): done, not replication lag to wait out (found by test/convergence).
        const alreadyClear = (r: SubResponse): boolean => (errorOf(r)?.message ?? '').includes(`'${attribute.name}'`);
        const res = await queue.submit(
          { method: 'DELETE', url: `/users/${id}/${attribute.name}/$ref` },
          { retryIf: (r) => fresh.has(id) && r.status === 404 && !alreadyClear(r) },
        );
        if (!ok(res) && res.status !== 404)
          fail(change, `clear ${attribute.name} of ${change.label}`, describeResponse(res));
        return;
      }
      const refId = ref.id ?? (ref.anchor !== undefined ? createdIds.get(ref.anchor) : undefined);
      if (refId === undefined) {
        skip(change, `skipped ${attribute.name} ${ref.label}: it does not exist and this plan does not create it`);
        return;
      }
      const res = await queue.submit(
        {
          method: 'PUT',
          url: `/users/${id}/${attribute.name}/$ref`,
          body: { '@odata.id': ctx.directoryObjectUrl(refId) },
        },
        { mayLag: fresh.has(id) || fresh.has(refId) },
      );
      if (!ok(res)) fail(change, `set ${attribute.name} of ${change.label} to ${ref.label}`, describeResponse(res));
    }
  }

  // licences (./licenses.ts): one assignLicense per user, once it exists with its usageLocation
  const licenseCtx: LicenseApplyContext = {
    queue,
    userId: (c) => c.id ?? createdIds.get(c.anchor),
    missing: (c) =>
      failedAnchors.has(c.anchor)
        ? 'skipped: user create failed'
        : 'skipped: the user does not exist and this plan does not create it',
    fresh,
    describe: describeResponse,
  };
  async function licenses(change: LicensesChange): Promise<void> {
    const r = await applyLicenseChange(licenseCtx, change);
    if (r.outcome === 'failed') fail(change, r.operation, r.message);
    else if (r.outcome === 'skipped') skip(change, r.reason);
    finish(change, r.outcome);
  }

  async function memberships(change: AddMembersChange | RemoveMembersChange): Promise<void> {
    {
      const gid = change.action === 'add-members' ? (change.id ?? createdIds.get(change.anchor)) : change.id;
      if (gid !== undefined && takeoverFailed.has(change.anchor)) {
        // Still mastered by the sync client: Graph would refuse every member write.
        skip(change, "skipped: the group's takeover failed");
        finish(change, 'skipped');
        return;
      }
      if (gid === undefined) {
        const reason = failedAnchors.has(change.anchor)
          ? 'skipped: group create failed'
          : 'skipped: the group does not exist and this plan does not create it';
        skip(change, reason);
        finish(change, 'skipped');
        return;
      }
      if (change.action === 'add-members') await addMembers(change, gid);
      else await removeMembers(change, gid);
      finish(change, failedChanges.has(change) ? 'failed' : skippedChanges.has(change) ? 'skipped' : 'applied');
    }
  }

  async function addMembers(change: AddMembersChange, gid: string): Promise<void> {
    const resolved: { ref: MemberRef; id: string }[] = [];
    const unresolved: MemberRef[] = [];
    for (const m of change.members) {
      const id = m.id ?? createdIds.get(m.anchor);
      if (id !== undefined && restoredIn.has(`${gid} ${id}`)) continue; // the restore brought it back
      if (id === undefined) unresolved.push(m);
      else resolved.push({ ref: m, id });
    }
    if (unresolved.length > 0) {
      const why = unresolved.some((m) => failedAnchors.has(m.anchor))
        ? 'member create failed'
        : 'member does not exist and this plan does not create it';
      skip(change, `skipped ${unresolved.length} member(s) (${why}): ${unresolved.map((m) => m.label).join(', ')}`);
    }
    const chunks: { ref: MemberRef; id: string }[][] = [];
    for (let i = 0; i < resolved.length; i += MEMBERS_PER_PATCH) chunks.push(resolved.slice(i, i + MEMBERS_PER_PATCH));
    await Promise.all(
      chunks.map(async (chunk) => {
        const mayLag = fresh.has(gid) || chunk.some((m) => fresh.has(m.id));
        const res = await queue.submit(
          {
            method: 'PATCH',
            url: `/groups/${gid}`,
            body: { 'members@odata.bind': chunk.map((m) => ctx.directoryObjectUrl(m.id)) },
          },
          { mayLag },
        );
        if (ok(res)) return;
        // The bulk add is atomic: one member already there (a re-run) or missing fails all 20. Add them one
        // by one to find out which, and count "already a member" as done.
        if (
          (res.status === 400 || res.status === 404) &&
          (chunk.length > 1 || ALREADY_MEMBER.test(errorOf(res)?.message ?? ''))
        ) {
          await Promise.all(
            chunk.map(async (m) => {
              const one = await queue.submit(
                {
                  method: 'POST',
                  url: `/groups/${gid}/members/$ref`,
                  body: { '@odata.id': ctx.directoryObjectUrl(m.id) },
                },
                { mayLag },
              );
              if (ok(one) || (one.status === 400 && ALREADY_MEMBER.test(errorOf(one)?.message ?? ''))) return;
              fail(change, `add member ${m.ref.label} to group ${change.label}`, describeResponse(one));
            }),
          );
          return;
        }
        fail(
          change,
          `add ${chunk.length} member(s) to group ${change.label} (${chunk.map((m) => m.ref.label).join(', ')})`,
          describeResponse(res),
        );
      }),
    );
  }

  async function removeMembers(change: RemoveMembersChange, gid: string): Promise<void> {
    await Promise.all(
      change.members.map(async (m) => {
        const mid = m.id ?? createdIds.get(m.anchor);
        if (mid === undefined) return; // a member that doesn't exist is not a member
        const res = await queue.submit({ method: 'DELETE', url: `/groups/${gid}/members/${mid}/$ref` });
        // 404: not a member (any more), or already gone: the planned state holds.
        if (ok(res) || res.status === 404) return;
        fail(change, `remove member ${m.label} from group ${change.label}`, describeResponse(res));
      }),
    );
  }

  return {
    async apply(change: Change, step: ApplyStep): Promise<void> {
      switch (step) {
        case 'delete-users':
        case 'delete-groups':
          if (change.action === 'delete') await deleteOne(change);
          return;
        case 'update':
        case 'update-taking':
        case 'restore':
        case 'create':
          if (
            change.action === 'create' ||
            change.action === 'restore' ||
            change.action === 'update' ||
            change.action === 'adopt' ||
            change.action === 'takeover' ||
            change.action === 'release'
          )
            await runPhase1(change);
          return;
        case 'references':
          if (
            change.action === 'create' ||
            change.action === 'restore' ||
            change.action === 'update' ||
            change.action === 'adopt' ||
            change.action === 'takeover'
          )
            await setReferences(change);
          return;
        case 'licenses':
          if (change.action === 'licenses') await licenses(change);
          return;
        case 'members':
          if (change.action === 'add-members' || change.action === 'remove-members') await memberships(change);
          return;
      }
    },
    end(): TargetApplyStats {
      return {
        writes: queue.writes,
        requests: queue.requests,
        retries: queue.retries,
        createdIds: Object.fromEntries(createdIds),
        ...(restoredMemberships.length > 0
          ? { restoredMemberships: restoredMemberships.sort((a, b) => (a.anchor < b.anchor ? -1 : 1)) }
          : {}),
      };
    },
  };
}

const IN_LIMIT = 15;

/** anchor → id of the objects in `coll` that carry one of `anchors`; empty when Graph can't answer. */
export async function findByAnchors(
  queue: BatchQueue,
  coll: 'users' | 'groups',
  anchorProp: string,
  anchors: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const chunks: string[][] = [];
  for (let i = 0; i < anchors.length; i += IN_LIMIT) chunks.push(anchors.slice(i, i + IN_LIMIT));
  await Promise.all(
    chunks.map(async (chunk) => {
      const filter = `${anchorProp} in (${chunk.map(odataString).join(',')})`;
      const res = await queue.submit({
        method: 'GET',
        url: `/${coll}?$filter=${encodeURIComponent(filter)}&$select=id,${anchorProp}&$top=999`,
      });
      if (!ok(res)) return;
      for (const o of (res.body as { value?: Record<string, unknown>[] } | undefined)?.value ?? []) {
        const a = o[anchorProp];
        if (typeof a === 'string' && typeof o['id'] === 'string') found.set(a, o['id']);
      }
    }),
  );
  return found;
}

/**
 * Registers adsync's anchor extension (`adsyncAnchor`, String, on User and Group) on its application and
 * returns its full name. A concurrent registration (409/400 conflict) is resolved by reading it back.
 */
export async function ensureAnchorProperty(queue: BatchQueue, ctx: Pick<ApplyContext, 'application'>): Promise<string> {
  return ensureExtension(queue, ctx, ANCHOR_EXTENSION_NAME);
}

/** Registers one of adsync's String extensions on User and Group (idempotent) and returns its full name. */
export async function ensureExtension(
  queue: BatchQueue,
  ctx: Pick<ApplyContext, 'application'>,
  extensionName: string,
): Promise<string> {
  const app = ctx.application;
  if (app === undefined) {
    throw new TargetError(
      'entra_application_unknown',
      `Entra: cannot register adsync's ${extensionName} extension: adsync's application was not found`,
      {
        hint: 'set target.entra.applicationId to the app registration adsync uses, and grant it Application.ReadWrite.OwnedBy',
      },
    );
  }
  const res = await queue.submit({
    method: 'POST',
    url: `/applications/${app.objectId}/extensionProperties`,
    body: { name: extensionName, dataType: 'String', targetObjects: ['User', 'Group'] },
  });
  const expected = fullExtensionName(app.appId, extensionName);
  if (ok(res)) {
    const name = (res.body as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : expected;
  }
  const list = await queue.submit({ method: 'GET', url: `/applications/${app.objectId}/extensionProperties` });
  const names = ok(list)
    ? ((list.body as { value?: { name?: string }[] } | undefined)?.value ?? []).map((e) => e.name)
    : [];
  const found = names.find((n) => n !== undefined && n.endsWith(`_${extensionName}`));
  if (found !== undefined) return found;
  throw new TargetError(
    'entra_extension_failed',
    `Entra: cannot register adsync's extension ${expected}: ${describeResponse(res)}`,
    {
      hint:
        res.status === 403
          ? 'the application needs the Application.ReadWrite.OwnedBy application permission (and must own its app registration), with admin consent'
          : "see Graph's message above",
    },
  );
}
