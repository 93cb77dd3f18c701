/**
 * The target directory as adsync sees it after one read: objects with Graph property names.
 * The Entra connector produces it; the engine compares desired objects against it.
 */
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
}
