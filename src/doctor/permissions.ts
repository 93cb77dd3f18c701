/**
 * The Microsoft Graph application permissions a spec needs, least privileged, with the higher permissions
 * that also satisfy each. From the "Application" rows of the Learn pages of the calls adsync makes
 * (learn.microsoft.com/graph/api/…) and graph-facts §1, §2, §11:
 *
 * | need | why (the calls) | also satisfied by |
 * |---|---|---|
 * | Organization.Read.All | `GET /organization` — tenant id and verified domains, the first call of every run (organization-get) | Organization.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All |
 * | User.ReadWrite.All | `POST/PATCH/DELETE /users`, `PUT manager/$ref` (graph-facts §1: "User.ReadWrite.All or Directory.ReadWrite.All"); read and restore deleted users (directory-deleteditems-list/-restore: per type, users → User.*) | Directory.ReadWrite.All |
 * | Group.ReadWrite.All | `POST /groups` and then PATCH/DELETE of the same groups (group-update/-delete; `Group.Create` alone makes groups the app can't modify, graph-facts §2), members (`GroupMember.ReadWrite.All` covers only those, graph-facts §2), read and restore deleted groups | Directory.ReadWrite.All |
 * | Application.ReadWrite.OwnedBy | find adsync's own app registration by appId and create its directory extensions (application-post-extensionproperty; graph-facts §11). With OwnedBy the app must be an owner of its own registration | Application.ReadWrite.All |
 * | LicenseAssignment.ReadWrite.All | required only with `licenses:` rules: `POST /users/{id}/assignLicense` (user-assignlicense, graph-facts-2 §7.2); `GET /subscribedSkus` needs Organization.Read.All, above | User.ReadWrite.All, Directory.ReadWrite.All |
 * | RoleManagement.Read.Directory | required only with `matching.softMatch`: `GET /directoryRoles?$expand=members` (and the role-assignable groups' `transitiveMembers`) — who holds an admin role, never soft-matched (directoryrole-list); without it, hard match adopts only users `matching.allowAdmins` names | RoleManagement.ReadWrite.Directory, Directory.Read.All, Directory.ReadWrite.All |
 *
 * With users or groups disabled in the spec, adsync still reads them (to match and to resolve members), so
 * the need drops to User.Read.All / GroupMember.Read.All. Directory.Read.All is never needed: deleted items
 * are readable per type with the User/Group permissions above, and contacts are never read from the tenant.
 */
import type { Spec } from '../spec/types.js';

export interface PermissionNeed {
  /** The least privileged application permission. */
  permission: string;
  /** Permissions that satisfy the need (the least privileged first). */
  anyOf: string[];
  /** What adsync does with it. */
  why: string;
}

const DIR_R = ['Directory.Read.All', 'Directory.ReadWrite.All'];

export function requiredPermissions(
  spec: Pick<Spec, 'objects' | 'matching'> & Partial<Pick<Spec, 'licenses'>>,
): PermissionNeed[] {
  const needs: PermissionNeed[] = [
    {
      permission: 'Organization.Read.All',
      anyOf: ['Organization.Read.All', 'Organization.ReadWrite.All', ...DIR_R],
      why: 'read the tenant and its verified domains (GET /organization)',
    },
  ];
  if (spec.objects.user.enabled) {
    needs.push({
      permission: 'User.ReadWrite.All',
      anyOf: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
      why: 'create, update, delete and restore users and set their managers',
    });
  } else {
    needs.push({
      permission: 'User.Read.All',
      anyOf: ['User.Read.All', 'User.ReadWrite.All', ...DIR_R],
      why: 'read users (to match them and to resolve group members)',
    });
  }
  if (spec.objects.group.enabled) {
    needs.push({
      permission: 'Group.ReadWrite.All',
      anyOf: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
      why: 'create, update, delete and restore security groups and write their members (GroupMember.ReadWrite.All covers only members)',
    });
  } else {
    needs.push({
      permission: 'GroupMember.Read.All',
      anyOf: ['GroupMember.Read.All', 'Group.Read.All', 'GroupMember.ReadWrite.All', 'Group.ReadWrite.All', ...DIR_R],
      why: 'read groups and their members',
    });
  }
  needs.push({
    permission: 'Application.ReadWrite.OwnedBy',
    anyOf: ['Application.ReadWrite.OwnedBy', 'Application.ReadWrite.All'],
    why: "find adsync's app registration and create its directory extension (the source anchor)",
  });
  if (spec.licenses && spec.licenses.length > 0) {
    needs.push({
      permission: 'LicenseAssignment.ReadWrite.All',
      anyOf: ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
      why: 'assign and remove the licences the licenses: rules name (POST /users/{id}/assignLicense)',
    });
  }
  // The source-of-authority switch (takeover and release): one permission per object type (graph-facts-2 §2.2).
  const waves = [spec.matching.takeover, spec.matching.release].some((e) => e !== undefined && e.trim() !== 'false');
  if (waves && spec.objects.user.enabled)
    needs.push({
      permission: 'User-OnPremisesSyncBehavior.ReadWrite.All',
      anyOf: ['User-OnPremisesSyncBehavior.ReadWrite.All'],
      why: 'switch the source of authority of users (matching.takeover / matching.release)',
    });
  if (waves && spec.objects.group.enabled)
    needs.push({
      permission: 'Group-OnPremisesSyncBehavior.ReadWrite.All',
      anyOf: ['Group-OnPremisesSyncBehavior.ReadWrite.All'],
      why: 'switch the source of authority of groups (matching.takeover / matching.release)',
    });
  if (spec.matching.softMatch !== 'off') {
    needs.push({
      permission: 'RoleManagement.Read.Directory',
      anyOf: ['RoleManagement.Read.Directory', 'RoleManagement.ReadWrite.Directory', ...DIR_R],
      why: 'see who holds an admin role, so that soft match never adopts an admin',
    });
  }
  return needs;
}

/** The needs the granted roles leave unmet. */
export function missingPermissions(needs: readonly PermissionNeed[], roles: ReadonlySet<string>): PermissionNeed[] {
  return needs.filter((n) => !n.anyOf.some((p) => roles.has(p)));
}
