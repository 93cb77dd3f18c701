/**
 * Attribute flows: Graph property ← CEL expression over the source object. The defaults reproduce Entra
 * Connect's out-of-box inbound + outbound rules (reference/entra-connect-defaults.md §2), written in the
 * same expression language a spec uses, so every computed value can be explained and any flow overridden.
 */
import type { ObjectKind } from '../model/target.js';
import type { Spec } from '../spec/types.js';
import { compileExpression, referencedAttributes, type CompiledExpression } from './expr.js';

const trimmed = (attr: string) => `trim(source.${attr})`;

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
    // displayName falls back to cn
    displayName: 'coalesce(trim(source.displayName), trim(source.cn))',
    employeeId: trimmed('employeeID'),
    faxNumber: trimmed('facsimileTelephoneNumber'),
    givenName: trimmed('givenName'),
    jobTitle: trimmed('title'),
    mail: trimmed('mail'),
    // Entra's mailNickname order: mailNickname, primary SMTP prefix, mail prefix, UPN prefix, sAMAccountName
    mailNickname:
      'mailNickname(coalesce(trim(source.mailNickname), localPart(primarySmtp(sourceAll.proxyAddresses)), localPart(trim(source.mail)), localPart(trim(source.userPrincipalName)), source.sAMAccountName))',
    mobilePhone: trimmed('mobile'),
    officeLocation: trimmed('physicalDeliveryOfficeName'),
    // the source anchor, so a tenant moving from Entra Connect hard-matches
    onPremisesImmutableId: 'anchor',
    postalCode: trimmed('postalCode'),
    preferredLanguage: trimmed('preferredLanguage'),
    state: trimmed('st'),
    streetAddress: trimmed('streetAddress'),
    surname: trimmed('sn'),
    usageLocation: trimmed('msExchUsageLocation'),
    // userPrincipalName falls back to sAMAccountName@domain
    userPrincipalName: 'coalesce(trim(source.userPrincipalName), concat(source.sAMAccountName, "@", domain))',
  },
  group: {
    // description: first value, trimmed, cut to 448 characters
    description: 'left(trim(source.description), 448)',
    displayName: 'coalesce(trim(source.displayName), trim(source.cn))',
    mailNickname: 'groupMailNickname(coalesce(trim(source.mailNickname), source.sAMAccountName, trim(source.cn)))',
  },
  contact: {
    displayName: 'coalesce(trim(source.displayName), trim(source.cn))',
    givenName: trimmed('givenName'),
    mail: trimmed('mail'),
    mailNickname: 'mailNickname(coalesce(trim(source.mailNickname), trim(source.cn)))',
    surname: trimmed('sn'),
  },
};

export interface CompiledFlow {
  attribute: string;
  expression: string;
  /** Provenance: `default user.displayName` or `objects.user.flows.displayName`. */
  origin: string;
  evaluate: CompiledExpression;
}

export interface KindFlows {
  kind: ObjectKind;
  flows: CompiledFlow[];
  /** Lower-cased source attributes the flows read, with the spelling the expressions use. */
  sourceAttributes: Map<string, string>;
}

/** Default flows overlaid with the spec's custom flows (null turns a default off). */
export function compileFlows(spec: Pick<Spec, 'objects'>): Record<ObjectKind, KindFlows> {
  const out = {} as Record<ObjectKind, KindFlows>;
  for (const kind of ['user', 'group', 'contact'] as const) {
    const merged = new Map<string, { expression: string; origin: string }>();
    for (const [attr, expression] of Object.entries(DEFAULT_FLOWS[kind])) merged.set(attr, { expression, origin: `default ${kind}.${attr}` });
    for (const [attr, expression] of Object.entries(spec.objects[kind]?.flows ?? {})) {
      if (expression === null) merged.delete(attr);
      else merged.set(attr, { expression, origin: `objects.${kind}.flows.${attr}` });
    }
    const flows: CompiledFlow[] = [];
    const sourceAttributes = new Map<string, string>();
    for (const [attribute, { expression, origin }] of [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      flows.push({ attribute, expression, origin, evaluate: compileExpression(expression) });
      for (const name of referencedAttributes(expression)) sourceAttributes.set(name.toLowerCase(), name);
    }
    out[kind] = { kind, flows, sourceAttributes };
  }
  return out;
}
