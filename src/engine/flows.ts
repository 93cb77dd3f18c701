/**
 * Attribute flows: Graph property ← CEL expression over the source object. The defaults reproduce Entra
 * Connect's out-of-box inbound + outbound rules (reference/entra-connect-defaults.md §2), written in the
 * same expression language a spec uses, so every computed value can be explained and any flow overridden.
 *
 * App and attribute filtering (`applications:`) keeps only the default flows whose AD attributes one of the
 * chosen applications needs (reference/app-attributes.csv); the flows Graph needs to create an object, and
 * every custom flow, always apply.
 */
import type { ObjectKind } from '../model/target.js';
import { applicationCsvName } from '../spec/applications.js';
import type { Spec } from '../spec/types.js';
import { APP_ATTRIBUTES } from './app-attributes.js';
import { compileWaveSelectors, type WaveSelectors } from './takeover.js';
import { compileExpression, referencedAttributes, type CompiledExpression } from './expr.js';
import type { FlowWhen } from './flow-timing.js';
import { GRAPH_PROPERTIES, valueProblem } from './graph-properties.js';
import { compileLicenseRules, licenseReadAttributes, type CompiledLicenses } from './licenses.js';

const trimmed = (attr: string) => `trim(source.${attr})`;

/** extensionAttribute1–15 → onPremisesExtensionAttributes.extensionAttributeN (writable for cloud users). */
const EXTENSION_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  Array.from({ length: 15 }, (_, i) => [
    `onPremisesExtensionAttributes.extensionAttribute${i + 1}`,
    trimmed(`extensionAttribute${i + 1}`),
  ]),
);

/** Entra Connect's defaults, as Graph properties. Keys are sorted for deterministic output. */
export const DEFAULT_FLOWS: Record<ObjectKind, Record<string, string>> = {
  user: {
    // userAccountControl bit 2 (ACCOUNTDISABLE) → accountEnabled false ("In from AD - User Common")
    accountEnabled: '!hasFlag(source.userAccountControl, 2)',
    businessPhones: 'list(trim(source.telephoneNumber))',
    city: trimmed('l'),
    companyName: trimmed('company'),
    country: trimmed('co'),
    department: trimmed('department'),
    // displayName falls back to cn; not trimmed (IIF(IsNullOrEmpty([displayName]),[cn],[displayName]))
    displayName: 'coalesce(source.displayName, source.cn)',
    employeeId: trimmed('employeeID'),
    // flowed by Entra Connect since 2.2.1.0
    employeeType: trimmed('employeeType'),
    faxNumber: trimmed('facsimileTelephoneNumber'),
    givenName: trimmed('givenName'),
    jobTitle: trimmed('title'),
    mail: trimmed('mail'),
    // Entra's mailNickname order: mailNickname, primary SMTP prefix, mail prefix, UPN prefix, sAMAccountName
    mailNickname:
      'mailNickname(coalesce(trim(source.mailNickname), localPart(primarySmtp(sourceAll.proxyAddresses)), localPart(trim(source.mail)), localPart(trim(source.userPrincipalName)), source.sAMAccountName))',
    // the manager's DN; the engine resolves it to the manager's object (a reference, set with manager/$ref)
    manager: 'source.manager',
    mobilePhone: trimmed('mobile'),
    officeLocation: trimmed('physicalDeliveryOfficeName'),
    ...EXTENSION_ATTRIBUTES,
    // the source anchor, so a tenant moving from Entra Connect hard-matches
    onPremisesImmutableId: 'anchor',
    postalCode: trimmed('postalCode'),
    preferredLanguage: trimmed('preferredLanguage'),
    state: trimmed('st'),
    streetAddress: trimmed('streetAddress'),
    surname: trimmed('sn'),
    usageLocation: trimmed('msExchUsageLocation'),
    // userPrincipalName falls back to sAMAccountName@domain; not trimmed (a UPN Graph refuses gets Entra's
    // fallback name instead, see applyTenantRules)
    userPrincipalName: 'coalesce(source.userPrincipalName, concat(source.sAMAccountName, "@", domain))',
  },
  group: {
    // description: first value, trimmed, cut to 448 characters
    description: 'left(trim(source.description), 448)',
    displayName: 'coalesce(source.displayName, source.cn)',
    mailNickname: 'groupMailNickname(coalesce(trim(source.mailNickname), source.sAMAccountName, trim(source.cn)))',
  },
  contact: {
    displayName: 'coalesce(source.displayName, source.cn)',
    givenName: trimmed('givenName'),
    mail: trimmed('mail'),
    mailNickname: 'mailNickname(coalesce(trim(source.mailNickname), trim(source.cn)))',
    surname: trimmed('sn'),
  },
};

/**
 * When Entra Connect (and the Entra service) recompute a default flow (flow-timing.ts): the alias is set once,
 * a usage location set in the cloud stays while AD has none ("Out to AAD - User Join":
 * `IIF(IsNullOrEmpty([usageLocation]),IgnoreThisFlow,[usageLocation])`), and the fallback UPN follows the
 * on-premises UPN only. Every other default flow is `always`.
 */
export const DEFAULT_FLOW_TIMING: Record<ObjectKind, Record<string, FlowWhen>> = {
  user: { mailNickname: 'initial', usageLocation: 'sourceHasValue', userPrincipalName: 'sourceChanged' },
  group: { mailNickname: 'initial' },
  contact: { mailNickname: 'initial' },
};

/** A spec flow: a CEL expression, or `{ value, when }`; null turns a default off. */
export type FlowValue = string | { value: string; when?: FlowWhen } | null;

/** The expression and timing of a spec flow value (a plain string is `always`). */
export function flowParts(v: Exclude<FlowValue, null>): { expression: string; when: FlowWhen } {
  return typeof v === 'string' ? { expression: v, when: 'always' } : { expression: v.value, when: v.when ?? 'always' };
}

/** Graph properties whose value is a reference to another synchronized object (a DN in, an object out). */
export const REFERENCE_PROPERTIES: ReadonlySet<string> = new Set(['manager']);

/**
 * Default flows Graph needs to create (or join) an object: they flow whatever `applications:` says, as Entra
 * Connect's Join and Identity rules do.
 */
export const REQUIRED_FLOWS: Record<ObjectKind, ReadonlySet<string>> = {
  user: new Set(['accountEnabled', 'displayName', 'mailNickname', 'onPremisesImmutableId', 'userPrincipalName']),
  group: new Set(['displayName', 'mailNickname']),
  contact: new Set(['displayName', 'mailNickname']),
};

/**
 * Graph property → the attribute names of app-attributes.csv it carries (the metaverse names Microsoft's
 * tables use, lower-cased). A default flow survives app filtering when a chosen app lists one of them.
 */
export const FLOW_APP_ATTRIBUTES: Record<ObjectKind, Record<string, readonly string[]>> = {
  user: {
    businessPhones: ['telephonenumber'],
    employeeType: ['employeetype'],
    city: ['l'],
    companyName: ['company'],
    country: ['co'],
    department: ['department'],
    employeeId: ['employeeid'],
    faxNumber: ['facsimiletelephonenumber'],
    givenName: ['givenname'],
    jobTitle: ['title'],
    mail: ['mail'],
    manager: ['manager'],
    mobilePhone: ['mobile'],
    officeLocation: ['physicaldeliveryofficename'],
    ...Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [
        `onPremisesExtensionAttributes.extensionAttribute${i + 1}`,
        [`extensionattribute${i + 1}`],
      ]),
    ),
    postalCode: ['postalcode'],
    preferredLanguage: ['preferredlanguage'],
    state: ['st'],
    streetAddress: ['streetaddress'],
    surname: ['sn'],
    usageLocation: ['usagelocation', 'msexchusagelocation'],
  },
  group: { description: ['description'] },
  contact: { givenName: ['givenname'], mail: ['mail'], surname: ['sn'] },
};

/** Entra Connect syncs the Windows 10 set whatever is selected ("cannot be deselected"). */
const ALWAYS_APPS = ['Windows 10'];

export interface CompiledFlow {
  attribute: string;
  expression: string;
  /** Provenance: `default user.displayName` or `objects.user.flows.displayName`. */
  origin: string;
  evaluate: CompiledExpression;
  /** What is wrong with a computed value for the Graph property (type, length, a required value missing). */
  check?: (value: unknown) => string | undefined;
  /** When the value is recomputed (flow-timing.ts); `always` unless the flow says otherwise. */
  when: FlowWhen;
}

/** A default flow that app filtering turned off (shown by `adsync explain`). */
export interface FilteredFlow {
  attribute: string;
  expression: string;
  reason: string;
}

export interface KindFlows {
  kind: ObjectKind;
  flows: CompiledFlow[];
  /** Lower-cased source attributes the CEL-evaluated flows read, with the spelling the expressions use. */
  sourceAttributes: Map<string, string>;
  /** Every lower-cased source attribute any flow reads (what connectors must fetch). */
  readAttributes: Set<string>;
  /** Default flows turned off by `applications:`. */
  filtered: FilteredFlow[];
  /** Property → timing, for the flows that are not `always` (shared by every desired object of the kind). */
  timing: Readonly<Record<string, FlowWhen>>;
  /** Users: the compiled `licenses:` rules (selection runs while the desired state is built). */
  licenses?: CompiledLicenses;
  /** matching.takeover / matching.release, compiled (users and groups; src/engine/takeover.ts). */
  selectors?: WaveSelectors;
}

/** The AD attributes the chosen applications need, per kind (lower-cased); undefined = no app filtering. */
export function applicationAttributes(applications: readonly string[]): Record<ObjectKind, Set<string>> | undefined {
  if (applications.length === 0) return undefined;
  const out: Record<ObjectKind, Set<string>> = { user: new Set(), group: new Set(), contact: new Set() };
  for (const csvName of [...applications.map((a) => applicationCsvName(a) ?? a), ...ALWAYS_APPS]) {
    const sets = APP_ATTRIBUTES[csvName];
    if (!sets) continue;
    for (const kind of ['user', 'group', 'contact'] as const) for (const a of sets[kind] ?? []) out[kind].add(a);
  }
  return out;
}

/** Default flows (filtered by `applications:`) overlaid with the spec's custom flows (null turns a default off). */
export function compileFlows(
  spec: Pick<Spec, 'objects'> & Partial<Pick<Spec, 'applications' | 'licenses' | 'matching'>>,
): Record<ObjectKind, KindFlows> {
  const out = {} as Record<ObjectKind, KindFlows>;
  const waves = compileWaveSelectors(spec.matching);
  const apps = applicationAttributes(spec.applications ?? []);
  for (const kind of ['user', 'group', 'contact'] as const) {
    const merged = new Map<string, { expression: string; origin: string; when: FlowWhen }>();
    const filtered: FilteredFlow[] = [];
    for (const [attr, expression] of Object.entries(DEFAULT_FLOWS[kind])) {
      if (
        apps &&
        !REQUIRED_FLOWS[kind].has(attr) &&
        !(FLOW_APP_ATTRIBUTES[kind][attr] ?? []).some((a) => apps[kind].has(a))
      ) {
        filtered.push({
          attribute: attr,
          expression,
          reason: `no application in applications: [${(spec.applications ?? []).join(', ')}] needs ${(FLOW_APP_ATTRIBUTES[kind][attr] ?? [attr]).join(' or ')}`,
        });
        continue;
      }
      merged.set(attr, {
        expression,
        origin: `default ${kind}.${attr}`,
        when: DEFAULT_FLOW_TIMING[kind][attr] ?? 'always',
      });
    }
    for (const [attr, value] of Object.entries(spec.objects[kind]?.flows ?? {})) {
      if (value === null) merged.delete(attr);
      else {
        const { expression, when } = flowParts(value);
        merged.set(attr, { expression, origin: `objects.${kind}.flows.${attr}`, when });
        const i = filtered.findIndex((f) => f.attribute === attr);
        if (i >= 0) filtered.splice(i, 1);
      }
    }
    const flows: CompiledFlow[] = [];
    const sourceAttributes = new Map<string, string>();
    const readAttributes = new Set<string>();
    const timing: Record<string, FlowWhen> = {};
    for (const [attribute, { expression, origin, when }] of [...merged].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )) {
      const evaluate = compileExpression(expression);
      const property = GRAPH_PROPERTIES[kind][attribute];
      const required = REQUIRED_FLOWS[kind].has(attribute);
      flows.push({
        attribute,
        expression,
        origin,
        evaluate,
        when,
        ...(property ? { check: (v: unknown) => valueProblem(property, attribute, v, required) } : {}),
      });
      if (when !== 'always') timing[attribute] = when;
      for (const name of referencedAttributes(expression)) {
        readAttributes.add(name.toLowerCase());
        if (!evaluate.native) sourceAttributes.set(name.toLowerCase(), name);
      }
    }
    out[kind] = { kind, flows, sourceAttributes, readAttributes, filtered, timing };
    if (kind !== 'contact' && (waves.selectors.takeover !== undefined || waves.selectors.release !== undefined)) {
      out[kind].selectors = waves.selectors;
      for (const name of waves.attributes) {
        readAttributes.add(name.toLowerCase());
        sourceAttributes.set(name.toLowerCase(), name);
      }
    }
  }
  const licenses = compileLicenseRules(spec.licenses);
  if (licenses) {
    out.user.licenses = licenses;
    for (const a of licenseReadAttributes(licenses)) out.user.readAttributes.add(a);
  }
  return out;
}
