/** One user adsync owns and its delete, for the delete-mode stage's tests (test/engine, test/model). */
import type { Change } from '../../src/model/change.js';
import type { TargetSnapshot } from '../../src/model/target.js';

/** The target property of the disable-first mark. */
export const MARK = 'extension_app_adsyncDeleteAfter';
export const now = new Date('2026-01-10T00:00:00.000Z');

/** The tenant with user u1@x (id1, anchor a1), enabled, its mark set to `mark` when given. */
export const target = (mark?: string): TargetSnapshot => ({
  system: 'entra',
  deleted: [],
  objects: [
    {
      id: 'id1',
      kind: 'user',
      anchor: 'a1',
      attrs: { userPrincipalName: 'u1@x', accountEnabled: true, ...(mark ? { [MARK]: mark } : {}) },
    },
  ],
});

/** The inbound delete of u1@x (out of scope). */
export const del: Change = {
  action: 'delete',
  kind: 'user',
  anchor: 'a1',
  target: 'entra',
  label: 'u1@x',
  id: 'id1',
  rule: 'sources.corp.scope',
  reason: 'out of scope',
};

export const disableFirst = { deleteMode: 'disable-first' as const, deleteGraceDays: 7 };
