/**
 * Entity shapes: which properties exist, which are returned by default, which are writable, and which can be
 * filtered. From graph-facts §1 (user), §2 (group), §3 (orgContact) and the v1.0 CSDL it cites.
 */
export type Kind = 'user' | 'group' | 'contact';

export interface EntitySchema {
  kind: Kind;
  odataType: string;
  /** Entity set name used in URLs and @odata.context. */
  set: string;
  /** Every known property (extension properties are handled separately: the entities are open types). */
  properties: Set<string>;
  /** Returned without $select. */
  defaults: string[];
  /** Collection-valued properties: [] rather than null when unset. */
  collections: Set<string>;
  /** Properties a client can't set (graph-facts §1 property table). */
  readOnly: Set<string>;
  /** Properties $filter accepts (graph-facts §1 and §4). */
  filterable: Set<string>;
  /** Properties `endsWith` accepts (advanced queries, graph-facts §4). */
  endsWith: Set<string>;
  /** Max lengths of writable strings. */
  maxLength: Record<string, number>;
}

const USER_PROPS = [
  'id', 'accountEnabled', 'ageGroup', 'businessPhones', 'city', 'companyName', 'country', 'createdDateTime',
  'creationType', 'deletedDateTime', 'department', 'displayName', 'employeeHireDate', 'employeeId', 'employeeType',
  'externalUserState', 'faxNumber', 'givenName', 'imAddresses', 'jobTitle', 'mail', 'mailNickname', 'mobilePhone',
  'officeLocation', 'onPremisesDistinguishedName', 'onPremisesDomainName', 'onPremisesExtensionAttributes',
  'onPremisesImmutableId', 'onPremisesLastSyncDateTime', 'onPremisesProvisioningErrors', 'onPremisesSamAccountName',
  'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled', 'onPremisesUserPrincipalName', 'otherMails',
  'passwordPolicies', 'passwordProfile', 'postalCode', 'preferredLanguage', 'proxyAddresses', 'securityIdentifier',
  'showInAddressList', 'state', 'streetAddress', 'surname', 'usageLocation', 'userPrincipalName', 'userType',
  // graph-facts-2 §7.1: returned only on $select; written through assignLicense.
  'assignedLicenses', 'licenseAssignmentStates',
];

export const userSchema: EntitySchema = {
  kind: 'user',
  odataType: '#microsoft.graph.user',
  set: 'users',
  properties: new Set(USER_PROPS),
  // graph-facts §1: "Default property set (returned without $select)".
  defaults: ['businessPhones', 'displayName', 'givenName', 'id', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName'],
  collections: new Set(['businessPhones', 'imAddresses', 'otherMails', 'proxyAddresses', 'onPremisesProvisioningErrors', 'assignedLicenses', 'licenseAssignmentStates']),
  // graph-facts §1: onPremises* read-only except onPremisesImmutableId (and the extension attributes of cloud-only users).
  readOnly: new Set([
    'id', 'createdDateTime', 'creationType', 'deletedDateTime', 'imAddresses', 'externalUserState', 'securityIdentifier',
    'onPremisesDistinguishedName', 'onPremisesDomainName', 'onPremisesLastSyncDateTime', 'onPremisesProvisioningErrors',
    'onPremisesSamAccountName', 'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled', 'onPremisesUserPrincipalName',
    'proxyAddresses', 'assignedLicenses', 'licenseAssignmentStates',
  ]),
  filterable: new Set([
    'id', 'accountEnabled', 'ageGroup', 'city', 'companyName', 'country', 'createdDateTime', 'creationType', 'department',
    'displayName', 'employeeHireDate', 'employeeId', 'employeeType', 'externalUserState', 'faxNumber', 'givenName',
    'imAddresses', 'jobTitle', 'mail', 'mailNickname', 'mobilePhone', 'officeLocation', 'onPremisesExtensionAttributes',
    'onPremisesImmutableId', 'onPremisesLastSyncDateTime', 'onPremisesSamAccountName', 'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled', 'onPremisesUserPrincipalName', 'otherMails', 'postalCode', 'preferredLanguage',
    'proxyAddresses', 'state', 'streetAddress', 'surname', 'usageLocation', 'userPrincipalName', 'userType', 'businessPhones',
  ]),
  endsWith: new Set(['mail', 'otherMails', 'userPrincipalName', 'proxyAddresses']),
  maxLength: {
    displayName: 256, givenName: 64, surname: 64, jobTitle: 128, department: 64, city: 128, country: 128, state: 128,
    streetAddress: 1024, postalCode: 40, companyName: 64, mobilePhone: 64, mailNickname: 64, employeeId: 16,
  },
};

const GROUP_PROPS = [
  'id', 'classification', 'createdDateTime', 'deletedDateTime', 'description', 'displayName', 'expirationDateTime',
  'groupTypes', 'isAssignableToRole', 'mail', 'mailEnabled', 'mailNickname', 'membershipRule',
  'membershipRuleProcessingState', 'onPremisesDomainName', 'onPremisesLastSyncDateTime', 'onPremisesNetBiosName',
  'onPremisesProvisioningErrors', 'onPremisesSamAccountName', 'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled',
  'preferredDataLocation', 'preferredLanguage', 'proxyAddresses', 'renewedDateTime', 'securityEnabled',
  'securityIdentifier', 'theme', 'visibility',
];
/** group.md: returned only on $select (group-based licensing, graph-facts-2 §7.3). */
const GROUP_SELECT_ONLY = ['assignedLicenses', 'licenseProcessingState', 'hasMembersWithLicenseErrors'];

export const groupSchema: EntitySchema = {
  kind: 'group',
  odataType: '#microsoft.graph.group',
  set: 'groups',
  properties: new Set([...GROUP_PROPS, ...GROUP_SELECT_ONLY]),
  // group.md marks every non-Exchange property "returned by default"; graph-facts §2 quotes the security-group
  // create response (securityIdentifier, mail null, proxyAddresses [], onPremises* null).
  defaults: GROUP_PROPS,
  collections: new Set(['groupTypes', 'proxyAddresses', 'onPremisesProvisioningErrors', 'assignedLicenses']),
  readOnly: new Set([...GROUP_SELECT_ONLY,
    'id', 'createdDateTime', 'deletedDateTime', 'expirationDateTime', 'mail', 'onPremisesDomainName',
    'onPremisesLastSyncDateTime', 'onPremisesNetBiosName', 'onPremisesProvisioningErrors', 'onPremisesSamAccountName',
    'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled', 'proxyAddresses', 'renewedDateTime', 'securityIdentifier',
  ]),
  filterable: new Set([
    'id', 'classification', 'createdDateTime', 'description', 'displayName', 'expirationDateTime', 'groupTypes',
    'isAssignableToRole', 'mail', 'mailEnabled', 'mailNickname', 'membershipRuleProcessingState',
    'onPremisesSamAccountName', 'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled', 'preferredLanguage',
    'proxyAddresses', 'securityEnabled', 'securityIdentifier', 'theme', 'visibility',
  ]),
  endsWith: new Set(['mail', 'proxyAddresses']),
  maxLength: { displayName: 256, mailNickname: 64 },
};

const CONTACT_PROPS = [
  'id', 'addresses', 'companyName', 'deletedDateTime', 'department', 'displayName', 'givenName', 'jobTitle', 'mail',
  'mailNickname', 'onPremisesLastSyncDateTime', 'onPremisesProvisioningErrors', 'onPremisesSyncEnabled', 'phones',
  'proxyAddresses', 'surname',
];

export const contactSchema: EntitySchema = {
  kind: 'contact',
  odataType: '#microsoft.graph.orgContact',
  set: 'contacts',
  properties: new Set(CONTACT_PROPS),
  defaults: CONTACT_PROPS,
  collections: new Set(['addresses', 'phones', 'proxyAddresses', 'onPremisesProvisioningErrors']),
  readOnly: new Set(CONTACT_PROPS), // graph-facts §3: read-only in Microsoft Graph
  filterable: new Set(['id', 'displayName', 'givenName', 'surname', 'mail', 'mailNickname', 'proxyAddresses', 'onPremisesSyncEnabled', 'companyName', 'department', 'jobTitle']),
  endsWith: new Set(['mail', 'proxyAddresses']),
  maxLength: {},
};

export const schemas: Record<Kind, EntitySchema> = { user: userSchema, group: groupSchema, contact: contactSchema };

export const EXTENSION_PROPERTY = /^extension_[0-9a-f]{32}_[A-Za-z0-9_]+$/;
