/**
 * Stage: writeback. The Entra → AD half of the plan (target `ad`: anchor, group and attribute writeback),
 * computed from the desired state, what was read of the AD objects, and the tenant as read. Its changes carry
 * the observed digests of the AD objects they touch. Disable-first never rewrites these: AD deletes of
 * written-back groups go as planned, under the same guard rails.
 */
import type { TargetSnapshot } from '../../model/target.js';
import type { DesiredState } from '../desired.js';
import { planWriteback, type WritebackInput, type WritebackResult } from '../writeback.js';
import { stampObserved } from './observed.js';

export type WritebackFacts = Pick<WritebackInput, 'facts' | 'groups'>;

export function writebackStage(
  spec: WritebackInput['spec'],
  desired: DesiredState,
  entra: TargetSnapshot,
  read: WritebackFacts,
): WritebackResult {
  const wb = planWriteback({ spec, desired, facts: read.facts, entra, groups: read.groups });
  return { ...wb, changes: stampObserved(wb.changes, wb.snapshot) };
}
