/**
 * Stage around the inbound diff: objects a sync client (Entra Connect, Cloud Sync) masters are held and
 * reported, or taken over / released in the waves `matching.takeover` / `matching.release` select
 * (src/engine/takeover.ts). The diff then runs on the state as it will be after the switch.
 */
import type { TargetSnapshot } from '../../model/target.js';
import type { MatchingSpec } from '../../spec/types.js';
import type { DesiredState } from '../desired.js';
import { desiredDigest, type DiffResult } from '../diff.js';
import { finishTakeovers, prepareTakeovers, recordWaveMatches } from '../takeover.js';
import { diffStage } from './diff.js';

export function takeoverStage(
  desired: DesiredState,
  target: TargetSnapshot,
  matching: Partial<MatchingSpec> | undefined,
  recordMatches: boolean,
  /** Leaving users are disabled, not deleted, this apply (disable-first): see DiffOptions.leaversStay. */
  leaversStay = false,
): DiffResult {
  const waves = prepareTakeovers(desired, target, {
    softMatch: matching?.softMatch ?? 'off',
    allowAdmins: matching?.allowAdmins ?? [],
  });
  const diffed = diffStage(waves.desired, waves.target, matching, recordMatches, leaversStay);
  if (recordMatches) recordWaveMatches(waves, diffed.matches);
  // the settled values (diffed.desired) with the held objects as given: objects held for waves are the
  // takeover's business alone
  const effective: DesiredState =
    diffed.desired === waves.desired
      ? desired
      : {
          ...diffed.desired,
          held: desired.held,
          ...(desired.heldDns !== undefined ? { heldDns: desired.heldDns } : {}),
        };
  return {
    ...diffed,
    desired: effective,
    ...finishTakeovers(diffed, waves, effective, (o) => desiredDigest(o)),
  };
}
