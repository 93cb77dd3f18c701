/**
 * `adsync doctor` for `licenses:` rules: the tenant's subscribed SKUs are readable (GET /subscribedSkus,
 * Organization.Read.All), every SKU and disabled service plan a rule names exists, and how many seats are
 * free. Read-only; every failure is a finding.
 */
import { toTargetError } from '../connectors/entra/errors.js';
import type { Graph } from '../connectors/entra/graph.js';
import { readSubscribedSkus } from '../connectors/entra/licenses.js';
import { resolveRules } from '../engine/licenses.js';
import type { LicenseRuleSpec } from '../spec/types.js';
import type { Finding } from './ldap.js';

export async function checkLicenses(
  rules: readonly LicenseRuleSpec[],
  graph: Graph,
  errCtx: { endpoint: string; authorityHost?: string },
): Promise<Finding[]> {
  const at = (status: Finding['status'], message: string, fix?: string): Finding =>
    fix === undefined || status === 'ok'
      ? { source: 'target', check: 'licenses', status, message }
      : { source: 'target', check: 'licenses', status, message, fix };
  let skus;
  try {
    skus = await readSubscribedSkus(graph);
  } catch (err) {
    const te = toTargetError(err, 'reading subscribed SKUs', { ...errCtx, permission: 'skus' });
    return [at('error', te.message, te.hint ?? 'grant Organization.Read.All (application permission, admin consent)')];
  }
  try {
    const resolved = resolveRules(rules, skus);
    return [
      at(
        'ok',
        `the licence rules' SKUs are subscribed: ${resolved
          .map(
            (r) =>
              `${r.sku.skuPartNumber} (${Math.max(0, r.sku.prepaidEnabled - r.sku.consumedUnits)} of ${r.sku.prepaidEnabled} seats free)`,
          )
          .join(', ')}`,
      ),
    ];
  } catch (err) {
    const e = err as Error & { hint?: string };
    return [at('error', e.message, e.hint ?? 'fix the licence rule')];
  }
}
