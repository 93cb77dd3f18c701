/**
 * `licenses:` — normalizing and the semantic rules the schema can't say: `when` compiles as a boolean CEL
 * expression, `memberOf` is a DN, each SKU has one rule, `onLeave: remove` comes with `owned: true`, and the
 * users get a usageLocation (Graph refuses assignLicense without one: graph-facts-2 §7.2).
 */
import { checkExpression, expressionType } from '../engine/expr.js';
import { applicationAttributes, FLOW_APP_ATTRIBUTES } from '../engine/flows.js';
import { checkDn } from '../model/dn.js';
import { formatPath, type SpecPath } from './positions.js';
import type { PathProblem } from './schema-problems.js';
import type { LicenseRuleSpec } from './types.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Raw => (isObj(v) ? v : {});

/** The rules as the rest of adsync reads them, defaults applied (data that passed the schema). */
export function normalizeLicenses(raw: unknown): LicenseRuleSpec[] {
  return list(raw).map((item, index) => {
    const r = obj(item);
    return {
      index,
      sku: String(r['sku']),
      disabledPlans: list(r['disabledPlans']).filter((p): p is string => typeof p === 'string'),
      ...(typeof r['when'] === 'string' ? { when: r['when'] } : {}),
      ...(typeof r['memberOf'] === 'string' ? { memberOf: r['memberOf'] } : {}),
      onDisable: r['onDisable'] === 'remove' ? 'remove' : 'keep',
      onLeave: r['onLeave'] === 'remove' ? 'remove' : 'keep',
      owned: r['owned'] === true,
      overCapacity: r['overCapacity'] === 'report' ? 'report' : 'fail',
    };
  });
}

/** `when` compiles and gives a bool; `memberOf` is a DN. */
export const licenseSelectors = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  list(spec['licenses']).forEach((item, i) => {
    const r = obj(item);
    const when = r['when'];
    if (typeof when === 'string' && when !== '') {
      const path: SpecPath = ['licenses', i, 'when'];
      const err = checkExpression(when);
      const type = err === undefined ? expressionType(when) : undefined;
      if (err !== undefined)
        out.push({ path, at: 'value', message: `${formatPath(path)} is not a valid CEL expression: ${err}` });
      else if (type !== undefined && type !== 'bool' && type !== 'dyn')
        out.push({
          path,
          at: 'value',
          message: `${formatPath(path)} gives a ${type}; it must give a bool (e.g. source.department == "Sales")`,
        });
    }
    const dn = r['memberOf'];
    if (typeof dn === 'string' && dn !== '') {
      const path: SpecPath = ['licenses', i, 'memberOf'];
      const err = checkDn(dn);
      if (err !== undefined)
        out.push({
          path,
          at: 'value',
          message: `${formatPath(path)} is not a valid DN: ${err} (e.g. CN=Licence-E3,OU=Groups,DC=corp,DC=example)`,
        });
    }
  });
  return out;
};

/** One rule per SKU: two rules could select the same user with different disabled plans. */
export const licenseSkusUnique = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  const first = new Map<string, number>();
  list(spec['licenses']).forEach((item, i) => {
    const sku = obj(item)['sku'];
    if (typeof sku !== 'string') return;
    const prev = first.get(sku.toLowerCase());
    if (prev === undefined) first.set(sku.toLowerCase(), i);
    else
      out.push({
        path: ['licenses', i, 'sku'],
        at: 'value',
        message: `licenses[${i}].sku: ${sku} is assigned by licenses[${prev}] already; merge the two rules (join their conditions with ||)`,
      });
  });
  return out;
};

/** onLeave: remove takes away direct assignments adsync can only call its own when the rule owns the SKU. */
export const licenseOwnership = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  list(spec['licenses']).forEach((item, i) => {
    const r = obj(item);
    if (r['onLeave'] === 'remove' && r['owned'] !== true)
      out.push({
        path: ['licenses', i, 'onLeave'],
        at: 'value',
        message: `licenses[${i}].onLeave: remove needs owned: true (without it adsync can't tell the assignments it made from anyone else's); add owned: true or use onLeave: keep`,
      });
  });
  return out;
};

/**
 * Graph refuses a licence to a user without usageLocation: a spec that assigns licences needs the
 * usageLocation flow (not turned off, not filtered away by `applications:`), and users to flow.
 */
export const licenseUsageLocation = (spec: Raw): PathProblem[] => {
  const rules = list(spec['licenses']);
  if (rules.length === 0) return [];
  const user = obj(obj(spec['objects'])['user']);
  if (user['enabled'] === false)
    return [
      {
        path: ['licenses'],
        at: 'key',
        message:
          'licenses: assigns licences to users, but objects.user.enabled is false; synchronize users or remove the licence rules',
      },
    ];
  const flows = obj(user['flows']);
  const custom = flows['usageLocation'];
  if (typeof custom === 'string' && custom !== '') return [];
  const apps = applicationAttributes(list(spec['applications']).filter((a): a is string => typeof a === 'string'));
  const filtered =
    apps !== undefined && !(FLOW_APP_ATTRIBUTES.user['usageLocation'] ?? []).some((a) => apps.user.has(a));
  if (custom !== null && !filtered) return [];
  const why =
    custom === null
      ? 'objects.user.flows.usageLocation is turned off (null)'
      : 'applications: filters the default usageLocation flow away';
  return [
    {
      path: custom === null ? ['objects', 'user', 'flows', 'usageLocation'] : ['licenses'],
      at: custom === null ? 'value' : 'key',
      message: `licenses: Graph assigns a licence only to a user with a usageLocation, but ${why}; flow one, e.g. objects.user.flows.usageLocation: 'coalesce(trim(source.msExchUsageLocation), "US")'`,
    },
  ];
};

export const LICENSE_RULES = [licenseSelectors, licenseSkusUnique, licenseOwnership, licenseUsageLocation] as const;
