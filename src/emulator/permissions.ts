/**
 * Application permissions (the `roles` claim of an app-only token) and what each Graph request needs.
 *
 * Every row below is the "Application" row of the Learn page of that API: the least privileged permission
 * first, then the higher privileged ones that also grant it. A request whose token holds none of them gets
 * Graph's 403 `Authorization_RequestDenied` "Insufficient privileges to complete the operation." (graph-facts §9).
 * Sources (learn.microsoft.com/graph/api/…): user-list, user-post-users, user-update, user-delete,
 * user-post-manager (User.ReadWrite.All; graph-facts §1); group-list, group-post-groups, group-update,
 * group-delete, group-post-members / group-delete-members (GroupMember.ReadWrite.All; graph-facts §2),
 * group-delta; orgcontact-list; organization-get; domain-list; directory-deleteditems-list/-get/-restore/-delete
 * (per type: users → User.*, groups → Group.*); application-list, application-list-extensionproperty,
 * application-post-extensionproperty (Application.ReadWrite.OwnedBy); directoryobject-getbyids and
 * directoryobject-getavailableextensionproperties (Directory.Read.All); directoryrole-list/-get/-list-members
 * (RoleManagement.Read.Directory), directoryrole-post-members/-delete-member (RoleManagement.ReadWrite.Directory).
 */
import { GraphError, type GraphRequest } from './http.js';

/**
 * What adsync needs, least privileged (the emulator's default grant). Why each one, see
 * src/doctor/permissions.ts, which derives the subset a given spec needs.
 */
export const ADSYNC_ROLES: readonly string[] = [
  'User.ReadWrite.All',
  'Group.ReadWrite.All',
  'Application.ReadWrite.OwnedBy',
  'Organization.Read.All',
  'RoleManagement.Read.Directory',
];

/**
 * The emulator's default grant: what adsync needs, plus OrgContact.Read.All and Domain.Read.All so that
 * `/contacts` and `/domains` (which adsync never reads, but tests and demos do) answer out of the box.
 */
export const DEFAULT_ROLES: readonly string[] = [...ADSYNC_ROLES, 'OrgContact.Read.All', 'Domain.Read.All'];

const DIR_R = ['Directory.Read.All', 'Directory.ReadWrite.All'];
const DIR_W = ['Directory.ReadWrite.All'];

const USERS_READ = ['User.Read.All', 'User.ReadWrite.All', ...DIR_R];
const USERS_WRITE = ['User.ReadWrite.All', ...DIR_W];
const GROUPS_READ = [
  'GroupMember.Read.All',
  'Group.Read.All',
  'GroupMember.ReadWrite.All',
  'Group.ReadWrite.All',
  ...DIR_R,
];
const GROUPS_CREATE = ['Group.Create', 'Group.ReadWrite.All', ...DIR_W];
const GROUPS_WRITE = ['Group.ReadWrite.All', ...DIR_W];
const MEMBERS_WRITE = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', ...DIR_W];
const CONTACTS_READ = ['OrgContact.Read.All', ...DIR_R];
const ORG_READ = ['Organization.Read.All', 'Organization.ReadWrite.All', ...DIR_R];
const DOMAINS_READ = ['Domain.Read.All', 'Domain.ReadWrite.All', ...DIR_R];
const APPS_READ = ['Application.Read.All', 'Application.ReadWrite.OwnedBy', 'Application.ReadWrite.All', ...DIR_R];
const EXT_WRITE = ['Application.ReadWrite.OwnedBy', 'Application.ReadWrite.All'];
const ROLES_READ = ['RoleManagement.Read.Directory', 'RoleManagement.ReadWrite.Directory', ...DIR_R];
const ROLES_WRITE = ['RoleManagement.ReadWrite.Directory'];

// graph-facts-2 §7: least privileged first (subscribedsku-list, user-assignlicense, group-assignlicense,
// user-list-licensedetails — whose Application row reads "Not supported"; the emulator accepts the user read
// permissions there, a known difference).
const SKUS_READ = ['Organization.Read.All', 'Organization.ReadWrite.All', ...DIR_R];
const LICENSE_USER_WRITE = ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', ...DIR_W];
const LICENSE_GROUP_WRITE = ['LicenseAssignment.ReadWrite.All', 'Group.ReadWrite.All', ...DIR_W];
const LICENSE_DETAILS_READ = ['LicenseAssignment.Read.All', ...USERS_READ];
// onpremisesdirectorysynchronization-get/-update list no application permission (delegated, Global
// Administrator only); the emulator only issues app tokens, so it asks for the delegated names as app roles.
const DIRSYNC_READ = ['OnPremDirectorySynchronization.Read.All', 'OnPremDirectorySynchronization.ReadWrite.All'];
const DIRSYNC_WRITE = ['OnPremDirectorySynchronization.ReadWrite.All'];
const SOA: Record<string, string[]> = {
  users: ['User-OnPremisesSyncBehavior.ReadWrite.All'],
  groups: ['Group-OnPremisesSyncBehavior.ReadWrite.All'],
  contacts: ['Contacts-OnPremisesSyncBehavior.ReadWrite.All'],
};

export const INSUFFICIENT_PRIVILEGES = 'Insufficient privileges to complete the operation.';

/**
 * The permissions any one of which lets this request through; undefined when the request needs none the
 * emulator checks (e.g. `$batch` itself: each inner request is checked on its own, graph-facts §6) or when
 * the resource handler answers first (unknown segments, writes to read-only resources).
 */
export function permissionsFor(
  req: GraphRequest,
  kindOfDeleted?: (id: string) => 'user' | 'group' | 'contact' | undefined,
): readonly string[] | undefined {
  const [root, key, rel, , ref] = req.segments;
  const read = req.method === 'GET';
  // onpremisessyncbehavior-get/-update: one permission per entity (graph-facts-2 §2.2).
  if (rel === 'onPremisesSyncBehavior' && root !== undefined && SOA[root]) return SOA[root];
  if (root === 'subscribedSkus') return read ? SKUS_READ : undefined;
  if (root === 'users' && rel === 'assignLicense') return LICENSE_USER_WRITE;
  if (root === 'users' && rel === 'licenseDetails') return LICENSE_DETAILS_READ;
  if (root === 'groups' && rel === 'assignLicense') return LICENSE_GROUP_WRITE;
  if (root === 'directory' && key === 'onPremisesSynchronization') return read ? DIRSYNC_READ : DIRSYNC_WRITE;
  switch (root) {
    case 'users':
      if (read) return USERS_READ;
      return USERS_WRITE;
    case 'groups': {
      if (read) return GROUPS_READ;
      if (key === undefined) return req.method === 'POST' ? GROUPS_CREATE : undefined;
      if (rel === 'members' && (ref === '$ref' || req.segments[3] === '$ref')) return MEMBERS_WRITE;
      // graph-facts §2 caution: DELETE members/{id} without /$ref deletes the member object itself.
      if (rel === 'members' && req.segments.length === 4 && req.method === 'DELETE') return USERS_WRITE;
      if (req.method === 'PATCH' && onlyMemberBinds(req.body)) return MEMBERS_WRITE;
      return GROUPS_WRITE;
    }
    case 'contacts':
      return read ? CONTACTS_READ : undefined; // writes: the handler's 405 (graph-facts §3)
    // (DELETE of a synced contact is answered by the handler's 400 whatever the grant.)
    case 'organization':
      return read ? ORG_READ : undefined;
    case 'domains':
      return read ? DOMAINS_READ : undefined;
    case 'applications':
      if (read) return APPS_READ;
      if (rel === 'extensionProperties') return EXT_WRITE;
      return ['Application.ReadWrite.All'];
    case 'directoryObjects':
      return DIR_R;
    case 'directoryRoles':
      return read ? ROLES_READ : ROLES_WRITE;
    case 'directory': {
      const item = req.segments[2];
      if (key !== 'deletedItems' || item === undefined) return undefined; // the handler's 404
      const typed =
        item === 'microsoft.graph.user' ? 'user' : item === 'microsoft.graph.group' ? 'group' : kindOfDeleted?.(item);
      if (typed === 'user') return read ? USERS_READ : USERS_WRITE;
      if (typed === 'group') return read ? ['Group.Read.All', 'Group.ReadWrite.All', ...DIR_R] : GROUPS_WRITE;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** A PATCH that only adds members (`members@odata.bind`) is a membership write (graph-facts §2). */
function onlyMemberBinds(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  return keys.length > 0 && keys.every((k) => k === 'members@odata.bind');
}

/** Throws Graph's 403 when the token's roles grant none of the permissions the request needs. */
export function checkPermissions(
  req: GraphRequest,
  kindOfDeleted?: (id: string) => 'user' | 'group' | 'contact' | undefined,
): void {
  if (req.roles === undefined) return;
  const need = permissionsFor(req, kindOfDeleted);
  if (need === undefined) return;
  if (need.some((p) => req.roles!.has(p))) return;
  throw new GraphError(403, 'Authorization_RequestDenied', INSUFFICIENT_PRIVILEGES);
}
