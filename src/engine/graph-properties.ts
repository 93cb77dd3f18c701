/**
 * The Graph property each flow writes: its type and, where Microsoft documents one, its maximum length. Flows
 * are checked against it — statically by `validate` where the expression's type is known, and per object
 * when a plan computes the value — so a wrong value is a report item for that object, never Graph's 400 at
 * apply.
 *
 * Source: Microsoft Graph v1.0 resource pages and metadata, as recorded in reference/graph-facts.md —
 * user (DC:api-reference/v1.0/resources/user.md@0061138 and the v1.0 CSDL: accountEnabled Edm.Boolean;
 * businessPhones, otherMails Collection(Edm.String); employeeHireDate Edm.DateTimeOffset; employeeOrgData and
 * onPremisesExtensionAttributes complex types of Edm.String; every other property here Edm.String; lengths from
 * the property table: displayName 256, givenName/surname 64, jobTitle 128, department 64, city/country/state 128,
 * streetAddress 1024, postalCode 40, companyName 64, mobilePhone 64, mailNickname 64, extensionAttributeN 1024,
 * userPrincipalName 113), group (group-post-groups.md@00e146a: displayName 256, mailNickname 64;
 * securityEnabled, mailEnabled Edm.Boolean; groupTypes Collection(Edm.String)). Directory extensions
 * (extension_<appId>_<name>) have the type their definition gives, which a spec doesn't state: not checked.
 */
import type { ObjectKind } from '../model/target.js';

export type GraphType = 'string' | 'boolean' | 'string-list' | 'datetime' | 'reference';

export interface GraphProperty {
  type: GraphType;
  /** Characters, where documented. */
  maxLength?: number;
}

const str = (maxLength?: number): GraphProperty =>
  maxLength === undefined ? { type: 'string' } : { type: 'string', maxLength };

export const GRAPH_PROPERTIES: Record<ObjectKind, Readonly<Record<string, GraphProperty>>> = {
  user: {
    accountEnabled: { type: 'boolean' },
    businessPhones: { type: 'string-list' },
    city: str(128),
    companyName: str(64),
    country: str(128),
    department: str(64),
    displayName: str(256),
    employeeHireDate: { type: 'datetime' },
    employeeId: str(),
    'employeeOrgData.costCenter': str(),
    'employeeOrgData.division': str(),
    employeeType: str(),
    faxNumber: str(),
    givenName: str(64),
    jobTitle: str(128),
    mail: str(),
    mailNickname: str(64),
    manager: { type: 'reference' },
    mobilePhone: str(64),
    officeLocation: str(),
    ...Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`onPremisesExtensionAttributes.extensionAttribute${i + 1}`, str(1024)]),
    ),
    onPremisesImmutableId: str(),
    otherMails: { type: 'string-list' },
    postalCode: str(40),
    preferredLanguage: str(),
    state: str(128),
    streetAddress: str(1024),
    surname: str(64),
    usageLocation: str(),
    // no length here: a UPN Graph would refuse gets Entra's fallback name instead (upn.ts)
    userPrincipalName: str(),
  },
  group: {
    description: str(),
    displayName: str(256),
    groupTypes: { type: 'string-list' },
    mailEnabled: { type: 'boolean' },
    mailNickname: str(64),
    securityEnabled: { type: 'boolean' },
    visibility: str(),
  },
  // contacts are read-only in Graph: never written, so never checked
  contact: {},
};

const WORDS: Record<GraphType, string> = {
  string: 'a string',
  boolean: 'true or false',
  'string-list': 'a list of strings',
  datetime: 'a date and time as an ISO 8601 string (e.g. "2024-05-01T00:00:00Z")',
  reference: "a DN (the referenced object's distinguishedName)",
};

/** How a spec reader would name a value: `the string "yes"`, `the number 3`, `a list`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'no value (null)';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(v)}`;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v))
    return v.every((x) => typeof x === 'string') ? 'a list of strings' : 'a list holding non-strings';
  if (v instanceof Date) return 'a timestamp';
  return 'a map';
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * What is wrong with a flow's value for a Graph property, or undefined when Graph takes it. `required`: the
 * property is one Graph needs on every object (a null would fail the create, and can't clear it on update).
 */
export function valueProblem(
  property: GraphProperty,
  name: string,
  value: unknown,
  required: boolean,
): string | undefined {
  if (value === null || value === undefined) return required ? `gave no value; Graph requires ${name}` : undefined;
  const wrong = (): string => `gave ${describeValue(value)}; Graph's ${name} is ${WORDS[property.type]}`;
  switch (property.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : wrong();
    case 'string-list':
      return Array.isArray(value) && value.every((x) => typeof x === 'string') ? undefined : wrong();
    case 'datetime':
      return typeof value === 'string' && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : wrong();
    case 'reference':
    case 'string': {
      if (typeof value !== 'string') return wrong();
      if (required && value === '') return `gave an empty string; Graph requires ${name}`;
      const max = property.maxLength;
      if (max !== undefined && value.length > max && codePoints(value) > max) {
        return `gave ${codePoints(value)} characters; Graph's ${name} holds at most ${max}`;
      }
      return undefined;
    }
  }
}

/**
 * What is wrong with an expression's static type (as the CEL checker names it) for a Graph property, or
 * undefined when it may be right (`dyn`: only the value will tell).
 */
export function staticTypeProblem(
  property: GraphProperty,
  name: string,
  celType: string | undefined,
  required: boolean,
): string | undefined {
  if (celType === undefined || celType === 'dyn') return undefined;
  if (celType === 'null') return required ? `is always null; Graph requires ${name}` : undefined;
  const ok =
    property.type === 'boolean'
      ? celType === 'bool'
      : property.type === 'string-list'
        ? celType === 'list' || celType === 'list<string>' || celType === 'list<dyn>'
        : celType === 'string';
  return ok ? undefined : `gives ${celWords(celType)}; Graph's ${name} is ${WORDS[property.type]}`;
}

function celWords(t: string): string {
  if (t === 'bool') return 'true or false';
  if (t === 'int' || t === 'uint' || t === 'double') return 'a number';
  if (t === 'string') return 'a string';
  if (t === 'bytes') return 'bytes';
  if (t.startsWith('list')) return `a ${t.replace('list<', 'list of ').replace('>', '')}`;
  if (t.startsWith('map')) return 'a map';
  if (t === 'google.protobuf.Timestamp') return 'a timestamp (use string(…) for its ISO 8601 text)';
  return `a ${t}`;
}
