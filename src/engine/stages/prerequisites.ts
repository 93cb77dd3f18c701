/**
 * Stage: prerequisites. adsync keeps its own state on the objects it writes in directory extensions on its
 * application (src/model/extension.ts): the anchor on every object it creates, adopts or takes over, the digest
 * of what it wrote, the disable-first mark. Registering one is a write too, so the plan lists the extensions its
 * changes use that the tenant doesn't have yet, and apply registers them before the first change: the saved plan
 * is the whole of what apply writes.
 */
import type { Change } from '../../model/change.js';
import {
  adsyncExtensionOf,
  ANCHOR_EXTENSION_NAME,
  DIGEST_EXTENSION_NAME,
  PENDING_DELETE_EXTENSION_NAME,
} from '../../model/extension.js';
import type { Prerequisite } from '../../model/plan.js';

const WHY: Record<string, string> = {
  [ANCHOR_EXTENSION_NAME]: "adsync's anchor, on every object it creates, adopts or takes over",
  [DIGEST_EXTENSION_NAME]: 'the digest of what adsync wrote, to tell a cloud edit (drift) from a change in AD',
  [PENDING_DELETE_EXTENSION_NAME]: 'the disable-first mark: when a disabled object may be deleted',
};

/**
 * The extensions the Entra changes use that `registered` (full names on adsync's application, as read) lacks.
 * `registered` undefined: the target can't say (no Entra target); nothing is listed.
 */
export function prerequisitesStage(
  changes: readonly Change[],
  registered: ReadonlySet<string> | undefined,
): Prerequisite[] {
  if (registered === undefined) return [];
  const have = new Set<string>();
  for (const full of registered) {
    const name = adsyncExtensionOf(full);
    if (name !== undefined) have.add(name);
  }
  const need = new Set<string>();
  for (const c of changes) {
    if (c.target !== 'entra') continue;
    if (c.action === 'create' || c.action === 'adopt' || c.action === 'takeover') need.add(ANCHOR_EXTENSION_NAME);
    // a create's digest is written with it (the executor computes it); the others carry theirs in the plan
    if (
      c.action === 'create' ||
      ((c.action === 'update' || c.action === 'restore' || c.action === 'adopt' || c.action === 'takeover') &&
        c.digest !== undefined)
    )
      need.add(DIGEST_EXTENSION_NAME);
    if (c.action === 'update' || c.action === 'restore')
      for (const a of c.attributes) {
        const name = adsyncExtensionOf(a.name);
        if (name !== undefined && name !== ANCHOR_EXTENSION_NAME) need.add(name);
      }
  }
  return [...need]
    .filter((name) => !have.has(name))
    .sort()
    .map((name) => ({
      action: 'register-extension' as const,
      target: 'entra' as const,
      name,
      reason: WHY[name] ?? "one of adsync's own extensions",
    }));
}
