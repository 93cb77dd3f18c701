/**
 * Which `$filter` operators Graph accepts per property, and which need an advanced query
 * (`ConsistencyLevel: eventual` + `$count=true`). ONE data table, one source per row (issue 12 item 1);
 * test/emulator/query-rules.test.ts walks every row.
 *
 * General rules (https://learn.microsoft.com/graph/aad-advanced-queries, graph-facts-2 §4):
 * `ne` and `not` are always advanced; `in` works wherever `eq` does; `endsWith` is advanced and only on mail,
 * otherMails, userPrincipalName and proxyAddresses; a property the table doesn't list can't be filtered at all.
 * The operator lists are the "Supports $filter (…)" cells of the resource pages; which `eq` / `eq null` need the
 * advanced parameters comes from the advanced-queries property table (includes/filter-directory-objects.md).
 */
/** `count` is `<collection>/$count eq 0` (or `ne 0`), always an advanced query (aad-advanced-queries). */
export type FilterOp = 'eq' | 'ne' | 'not' | 'in' | 'ge' | 'le' | 'startsWith' | 'endsWith' | 'eqNull' | 'count';
export const ALL_OPS: readonly FilterOp[] = [
  'eq',
  'ne',
  'not',
  'in',
  'ge',
  'le',
  'startsWith',
  'endsWith',
  'eqNull',
  'count',
];

/** How the test builds a literal for the property; `strings` = a collection, filtered through `any()`. */
export type ValueType =
  'string' | 'bool' | 'date' | 'guid' | 'strings' | 'extensionAttribute' | 'license' | 'syncBehavior';

export interface FilterRule {
  entity: 'user' | 'group';
  property: string;
  type: ValueType;
  /** Accepted without the advanced parameters. */
  basic: FilterOp[];
  /** Accepted only as an advanced query. */
  advanced: FilterOp[];
  source: string;
}

const USER = 'https://learn.microsoft.com/graph/api/resources/user#properties';
const GROUP = 'https://learn.microsoft.com/graph/api/resources/group#properties';
const ADV = 'https://learn.microsoft.com/graph/aad-advanced-queries#microsoft-entra-id-directory-objects-properties';
const SOA =
  'https://learn.microsoft.com/entra/identity/hybrid/how-to-group-source-of-authority-configure (list converted groups)';

/** A string with eq, ne, not, ge, le, in, startsWith and eq null, where eq null needs the advanced parameters. */
const STRING_WITH_NULL = {
  basic: ['eq', 'in', 'ge', 'le', 'startsWith'] as FilterOp[],
  advanced: ['ne', 'not', 'eqNull'] as FilterOp[],
};
/** Same operators, every one of them advanced (the include marks `eq` itself). */
const ALL_ADVANCED = (ops: FilterOp[]): Pick<FilterRule, 'basic' | 'advanced'> => ({ basic: [], advanced: ops });

export const FILTER_RULES: readonly FilterRule[] = [
  // ---- user ----
  { entity: 'user', property: 'id', type: 'guid', basic: ['eq', 'in'], advanced: ['ne', 'not'], source: USER },
  {
    entity: 'user',
    property: 'accountEnabled',
    type: 'bool',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not'],
    source: USER,
  },
  { entity: 'user', property: 'ageGroup', type: 'string', basic: ['eq', 'in'], advanced: ['ne', 'not'], source: USER },
  {
    entity: 'user',
    property: 'userPrincipalName',
    type: 'string',
    basic: ['eq', 'in', 'ge', 'le', 'startsWith'],
    advanced: ['ne', 'not', 'endsWith'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'mail',
    type: 'string',
    basic: ['eq', 'in', 'ge', 'le', 'startsWith', 'eqNull'],
    advanced: ['ne', 'not', 'endsWith'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'otherMails',
    type: 'strings',
    basic: ['eq', 'in', 'ge', 'le', 'startsWith'],
    advanced: ['not', 'endsWith', 'count'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'proxyAddresses',
    type: 'strings',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['not', 'endsWith', 'count'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'businessPhones',
    type: 'strings',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['not'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'imAddresses',
    type: 'strings',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['not'],
    source: USER,
  },
  { entity: 'user', property: 'displayName', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'givenName', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'surname', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'jobTitle', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  // department: user.md lists no startsWith.
  {
    entity: 'user',
    property: 'department',
    type: 'string',
    basic: ['eq', 'in', 'ge', 'le'],
    advanced: ['ne', 'not', 'eqNull'],
    source: `${USER}; ${ADV}`,
  },
  { entity: 'user', property: 'city', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'state', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'country', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'mailNickname', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'employeeId', type: 'string', ...STRING_WITH_NULL, source: `${USER}; ${ADV}` },
  { entity: 'user', property: 'faxNumber', type: 'string', ...STRING_WITH_NULL, source: USER },
  { entity: 'user', property: 'usageLocation', type: 'string', ...STRING_WITH_NULL, source: USER },
  {
    entity: 'user',
    property: 'employeeType',
    type: 'string',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in', 'startsWith']),
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'employeeHireDate',
    type: 'date',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in']),
    source: `${USER}; ${ADV}`,
  },
  ...(
    ['companyName', 'mobilePhone', 'officeLocation', 'postalCode', 'streetAddress', 'preferredLanguage'] as const
  ).map((property): FilterRule => ({
    entity: 'user',
    property,
    type: 'string',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in', 'startsWith', 'eqNull']),
    source: `${USER}; ${ADV}`,
  })),
  {
    entity: 'user',
    property: 'userType',
    type: 'string',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not', 'eqNull'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'creationType',
    type: 'string',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'externalUserState',
    type: 'string',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'createdDateTime',
    type: 'date',
    basic: ['eq', 'ge', 'le'],
    advanced: ['ne', 'not', 'in'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'deletedDateTime',
    type: 'date',
    basic: ['eq', 'ge', 'le'],
    advanced: ['ne', 'not', 'in'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'onPremisesImmutableId',
    type: 'string',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in']),
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'onPremisesSamAccountName',
    type: 'string',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in', 'startsWith']),
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'onPremisesLastSyncDateTime',
    type: 'date',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'ge', 'le', 'in']),
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'onPremisesSecurityIdentifier',
    type: 'string',
    basic: ['eq'],
    advanced: ['eqNull'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'onPremisesSyncEnabled',
    type: 'bool',
    basic: ['eq', 'in', 'eqNull'],
    advanced: ['ne', 'not'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'onPremisesUserPrincipalName',
    type: 'string',
    basic: ['eq', 'in', 'ge', 'le', 'startsWith'],
    advanced: ['ne', 'not'],
    source: USER,
  },
  {
    entity: 'user',
    property: 'onPremisesExtensionAttributes',
    type: 'extensionAttribute',
    ...ALL_ADVANCED(['eq', 'ne', 'not', 'in']),
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'assignedLicenses',
    type: 'license',
    basic: ['eq'],
    advanced: ['not', 'count'],
    source: `${USER}; ${ADV}`,
  },
  // user.md: passwordPolicies supports ne, not and eq on null (no plain eq); eq null as advanced is inferred.
  {
    entity: 'user',
    property: 'passwordPolicies',
    type: 'string',
    basic: [],
    advanced: ['ne', 'not', 'eqNull'],
    source: `${USER}; ${ADV}`,
  },
  {
    entity: 'user',
    property: 'securityIdentifier',
    type: 'string',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['not'],
    source: USER,
  },
  // ---- group ----
  { entity: 'group', property: 'id', type: 'guid', basic: ['eq', 'in'], advanced: ['ne', 'not'], source: GROUP },
  ...(['displayName', 'mail', 'mailNickname', 'preferredLanguage'] as const).map((property): FilterRule => ({
    entity: 'group',
    property,
    type: 'string',
    ...STRING_WITH_NULL,
    source: `${GROUP}; ${ADV}`,
  })),
  ...(['description', 'classification', 'membershipRule'] as const).map((property): FilterRule => ({
    entity: 'group',
    property,
    type: 'string',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['ne', 'not'],
    source: GROUP,
  })),
  {
    entity: 'group',
    property: 'securityEnabled',
    type: 'bool',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not'],
    source: GROUP,
  },
  {
    entity: 'group',
    property: 'membershipRuleProcessingState',
    type: 'string',
    basic: ['eq', 'in'],
    advanced: ['ne', 'not'],
    source: GROUP,
  },
  { entity: 'group', property: 'mailEnabled', type: 'bool', basic: ['eq'], advanced: ['ne', 'not'], source: GROUP },
  {
    entity: 'group',
    property: 'isAssignableToRole',
    type: 'bool',
    basic: ['eq'],
    advanced: ['ne', 'not'],
    source: GROUP,
  },
  { entity: 'group', property: 'groupTypes', type: 'strings', basic: ['eq'], advanced: ['not'], source: GROUP },
  {
    entity: 'group',
    property: 'onPremisesSyncEnabled',
    type: 'bool',
    basic: ['eq', 'in', 'eqNull'],
    advanced: ['ne', 'not'],
    source: GROUP,
  },
  {
    entity: 'group',
    property: 'onPremisesSamAccountName',
    type: 'string',
    basic: ['eq', 'in', 'ge', 'le', 'startsWith'],
    advanced: ['ne', 'not'],
    source: GROUP,
  },
  // group.md: onPremisesSecurityIdentifier supports only `eq` on null values.
  {
    entity: 'group',
    property: 'onPremisesSecurityIdentifier',
    type: 'string',
    basic: ['eqNull'],
    advanced: [],
    source: GROUP,
  },
  {
    entity: 'group',
    property: 'proxyAddresses',
    type: 'strings',
    basic: ['eq', 'ge', 'le', 'startsWith'],
    advanced: ['not', 'endsWith'],
    source: `${GROUP}; ${ADV}`,
  },
  ...(['createdDateTime', 'expirationDateTime', 'renewedDateTime', 'onPremisesLastSyncDateTime'] as const).map(
    (property): FilterRule => ({
      entity: 'group',
      property,
      type: 'date',
      basic: ['eq', 'ge', 'le', 'in'],
      advanced: ['ne', 'not'],
      source: GROUP,
    }),
  ),
  { entity: 'group', property: 'assignedLicenses', type: 'license', basic: ['eq'], advanced: [], source: GROUP },
  {
    entity: 'group',
    property: 'hasMembersWithLicenseErrors',
    type: 'bool',
    basic: ['eq'],
    advanced: [],
    source: GROUP,
  },
  { entity: 'group', property: 'onPremisesSyncBehavior', type: 'syncBehavior', ...ALL_ADVANCED(['eq']), source: SOA },
];

/** Directory extension properties (graph-facts-2 §4.3): eq works; startsWith is advanced (issue 12); ne/not always are. */
export const EXTENSION_RULE: Omit<FilterRule, 'entity' | 'property'> = {
  type: 'string',
  basic: ['eq', 'in', 'eqNull'],
  advanced: ['ne', 'not', 'startsWith'],
  source: 'https://learn.microsoft.com/graph/aad-advanced-queries (directory extensions); graph-facts-2 §4.3',
};

const INDEX = new Map(FILTER_RULES.map((r) => [`${r.entity}:${r.property}`, r]));

export function filterRule(entity: 'user' | 'group', property: string): FilterRule | undefined {
  return INDEX.get(`${entity}:${property}`);
}
