/**
 * The target directory as adsync sees it after one read: objects with Graph property names.
 * The Entra connector produces it; the engine compares desired objects against it.
 */
import type { ApplyOptions, ApplyResult } from './apply.js';
import type { Change } from './change.js';
import type { SubscribedSkuInfo } from './license.js';
import type { Plan } from './plan.js';

export type ObjectKind = 'user' | 'group' | 'contact';
export type TargetSystem = 'entra' | 'ad';

export interface TargetObject {
  /** The target's own id (Graph object id; the DN for AD). */
  id: string;
  kind: ObjectKind;
  /** The adsync anchor stored on the object; set only on objects adsync owns. */
  anchor?: string;
  /** Property name → value, as the target reports them (only the properties adsync reads). */
  attrs: Record<string, unknown>;
  /** Groups: ids of direct members. */
  members?: string[];
  /**
   * Users: the directory roles the object holds, directly or through a role-assignable group (display names);
   * adsync never soft-matches such a user, nor hard-matches one that matching.allowAdmins does not name.
   */
  adminRoles?: string[];
  /** The digest of the attributes adsync last wrote (its `adsyncDigest` extension), for drift detection. */
  digest?: string;
  /**
   * Mastered by a sync client (Entra Connect or Cloud Sync): Graph's `onPremisesSyncEnabled` is true. Graph
   * refuses most writes to such an object (graph-facts-2 §1); adsync never writes it unless it takes it over.
   */
  syncClientMastered?: boolean;
  /** Users and groups: `onPremisesSecurityIdentifier`, the AD objectSid a sync client recorded (S-1-5-21-…). */
  onPremisesSid?: string;
}

export interface TenantInfo {
  tenantId: string;
  /** Verified domain names, lower-cased. */
  verifiedDomains: string[];
  /** The tenant's initial domain (contoso.onmicrosoft.com), lower-cased. */
  initialDomain: string;
}

/** The tenant's directory synchronization (Entra Connect / Cloud Sync) as far as adsync can read it. */
export interface DirectorySyncStatus {
  /** organization.onPremisesSyncEnabled: true while a sync client runs; null when never on (or turned off). */
  enabled: boolean | null;
  lastSyncDateTime?: string;
  /**
   * The feature flags of /directory/onPremisesSynchronization (graph-facts-2 §3.2), e.g.
   * blockCloudObjectTakeoverThroughHardMatchEnabled. Reading them needs OnPremDirectorySynchronization.Read.All,
   * which Graph grants delegated only: usually unread, and then `featuresUnread` says why.
   */
  features?: Record<string, boolean>;
  featuresUnread?: string;
}

export interface TargetSnapshot {
  system: TargetSystem;
  tenant?: TenantInfo;
  /** Entra: whether a sync client runs on the tenant, and its protection flags where readable. */
  directorySync?: DirectorySyncStatus;
  objects: TargetObject[];
  /** Soft-deleted objects adsync owned (restorable, Graph /directory/deletedItems). */
  deleted: TargetObject[];
  /**
   * Set (to why) when the holders of directory roles could not be read: `adminRoles` is then unknown, not
   * empty, and hard match adopts no user that matching.allowAdmins does not name.
   */
  adminRolesUnread?: string;
  /** The tenant's subscribed SKUs, read when the spec has licence rules (GET /subscribedSkus). */
  skus?: SubscribedSkuInfo[];
}

/**
 * The steps of an apply, in the order the apply loop (src/apply/loop.ts) runs them, each over every target:
 *   delete-users   user deletes (soft, restorable): a UPN or address they free can be taken by a later step;
 *   update         updates, except those taking a UPN or address another update frees (those go last);
 *   update-taking  the updates left;
 *   restore        restores, one at a time in plan order: Graph brings a user back under the UPN and addresses it
 *                  had, so each restore needs them free once the updates have run, and its own update (to the
 *                  new UPN) frees the old ones for the creates after it (the plan holds a restore that can't be
 *                  made: diff.ts);
 *   create         creates and adoptions;
 *   references     reference attributes (manager) of the changes above, once every object exists;
 *   licenses       users' licence changes (assignLicense), once users exist with their usageLocation;
 *   members        membership adds, then removes;
 *   delete-groups  every other delete.
 */
export const APPLY_STEPS = [
  'delete-users',
  'update',
  'update-taking',
  'restore',
  'create',
  'references',
  'licenses',
  'members',
  'delete-groups',
] as const;
export type ApplyStep = (typeof APPLY_STEPS)[number];

/** What a target declares about itself, for the apply loop. */
export interface TargetCapabilities {
  /**
   * Changes of `step` applied at once, given the apply's concurrency (requests in flight; undefined: the
   * target's default); 1 = one after the other, in order.
   */
  width(step: ApplyStep, concurrency: number | undefined): number;
}

/** Where a target reports what happened; the loop keeps the results, the journal (onChange) and progress. */
export interface ApplyReporter {
  /** The change is finished (once per change): applied, failed or skipped; `id` of a created object. */
  finish(change: Change, outcome: 'applied' | 'failed' | 'skipped', id?: string): void;
  /** One operation of the change failed (a change may report several). */
  fail(change: Change, operation: string, message: string): void;
  /** Part or all of the change was skipped, and why. */
  skip(change: Change, reason: string): void;
}

/** One apply against one target, begun by Target.begin. */
export interface TargetApply {
  /** Apply `step` of one change and report its outcome through the reporter (a no-op when the step is not its). */
  apply(change: Change, step: ApplyStep): Promise<void>;
  /** Counters and ids once every step has run. */
  end(): TargetApplyStats;
}

export interface TargetApplyStats {
  writes: number;
  requests: number;
  retries: number;
  /** anchor → id of the objects created or restored. */
  createdIds: Record<string, string>;
  restoredMemberships?: ApplyResult['restoredMemberships'];
}

/**
 * A directory adsync writes to: the Entra connector (src/connectors/entra) and the AD writeback connector
 * (src/connectors/ad/executor.ts). The apply loop knows targets only through this interface.
 */
export interface Target {
  readonly system: TargetSystem;
  readonly capabilities: TargetCapabilities;
  /**
   * Start applying `changes` (this target's share of the plan): check the plan is for this target, and do the
   * plan's `prerequisites` for it, which must precede the first change (register adsync's directory extensions).
   */
  begin(
    plan: Pick<Plan, 'target' | 'changes' | 'prerequisites'>,
    options: ApplyOptions,
    report: ApplyReporter,
  ): Promise<TargetApply>;
}

/** A target that reads its snapshot too (Entra). The AD writeback target's objects are read by the AD source. */
export interface ReadableTarget<Request> extends Target {
  read(request: Request): Promise<TargetSnapshot>;
}

/** How plans name a target object: a user by its UPN, anything else by its displayName; else its id. */
export function targetLabel(t: Pick<TargetObject, 'kind' | 'id' | 'attrs'>): string {
  const v = t.kind === 'user' ? t.attrs.userPrincipalName : t.attrs.displayName;
  return typeof v === 'string' && v !== '' ? v : t.id;
}

/** The SMTP addresses of a target object (mail and smtp: proxy addresses), lower-cased. */
export function addressesOf(t: TargetObject): string[] {
  const out: string[] = [];
  const mail = lowerOf(t.attrs.mail);
  if (mail) out.push(mail);
  const proxies = t.attrs.proxyAddresses;
  if (Array.isArray(proxies)) {
    for (const p of proxies)
      if (typeof p === 'string' && p.slice(0, 5).toLowerCase() === 'smtp:') out.push(p.slice(5).toLowerCase());
  }
  return out;
}

const lowerOf = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);
