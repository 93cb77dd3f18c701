/**
 * `adsync doctor` for a tenant a sync client (Entra Connect, Cloud Sync) also writes (issue 13): whether
 * directory sync is on, the hard-match takeover block (graph-facts-2 §3), how many objects in adsync's scope the
 * sync client masters (same anchor or objectSid), and the prerequisites of matching.release.
 */
import type { Graph } from '../connectors/entra/graph.js';
import { readDirectorySync } from '../connectors/entra/takeover.js';
import type { DesiredState } from '../engine/desired.js';
import type { Spec } from '../spec/types.js';
import type { Finding, FindingStatus } from './ldap.js';

const SOURCE = 'target';
const f = (check: string, status: FindingStatus, message: string, fix?: string): Finding => ({
  source: SOURCE,
  check,
  status,
  message,
  ...(fix !== undefined ? { fix } : {}),
});

const selected = (expr: string | undefined): boolean => expr !== undefined && expr.trim() !== 'false';

export async function checkSyncClient(
  spec: Spec,
  graph: Graph,
  desired: () => Promise<DesiredState | undefined>,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const sync = await readDirectorySync(graph);
  if (sync === undefined) return out;
  const takeover = selected(spec.matching.takeover);
  const release = selected(spec.matching.release);
  if (sync.enabled !== true) {
    // Said only where it matters (a spec with waves); otherwise there is nothing to check.
    if (takeover || release)
      out.push(
        f(
          'directory-sync',
          'ok',
          'no sync client runs on this tenant (organization.onPremisesSyncEnabled is not true)',
        ),
      );
    return out;
  }
  const block = sync.features?.['blockCloudObjectTakeoverThroughHardMatchEnabled'];
  out.push(
    f(
      'directory-sync',
      'warning',
      `a sync client (Entra Connect or Cloud Sync) runs on this tenant${sync.lastSyncDateTime ? ` (last sync ${sync.lastSyncDateTime})` : ''}: objects it masters are never written by adsync; plan reports each as mastered-by-sync-client`,
      'take them over in waves with matching.takeover (README: "Moving from Entra Connect"); check that each source\'s anchor is Entra Connect\'s sourceAnchor (ms-DS-ConsistencyGuid, else objectGUID)',
    ),
  );
  // Which objects in scope the sync client masters: same anchor (users) or same objectSid.
  const state = await desired().catch(() => undefined);
  if (state !== undefined)
    try {
      const ids = new Set<string>();
      const sids = new Set<string>();
      /** Users' SID → the sourceAnchor Entra Connect wrote (onPremisesImmutableId). */
      const anchorBySid = new Map<string, string>();
      for (const kind of ['users', 'groups'] as const) {
        for await (const page of graph.pages<Record<string, unknown>>(
          `/${kind}?$filter=onPremisesSyncEnabled eq true&$select=id,${kind === 'users' ? 'onPremisesImmutableId,' : ''}onPremisesSecurityIdentifier&$top=999`,
        )) {
          for (const o of page) {
            if (typeof o['onPremisesImmutableId'] === 'string') ids.add(o['onPremisesImmutableId']);
            const sid = o['onPremisesSecurityIdentifier'];
            if (typeof sid === 'string') sids.add(sid.toUpperCase());
            if (kind === 'users' && typeof sid === 'string' && typeof o['onPremisesImmutableId'] === 'string')
              anchorBySid.set(sid.toUpperCase(), o['onPremisesImmutableId']);
          }
        }
      }
      // adsync's anchor must be Entra Connect's sourceAnchor, or a takeover matches by SID and rewrites it.
      let same = 0;
      const differ: string[] = [];
      for (const o of state.objects) {
        const connect = o.kind === 'user' && o.sid !== undefined ? anchorBySid.get(o.sid.toUpperCase()) : undefined;
        if (connect === undefined) continue;
        if (connect === o.anchor) same++;
        else differ.push(`${o.label}: Entra Connect ${connect}, adsync ${o.anchor}`);
      }
      if (differ.length > 0)
        out.push(
          f(
            'anchor',
            'error',
            `adsync's anchor differs from Entra Connect's sourceAnchor for ${differ.length} user(s) it synchronized (${differ.slice(0, 3).join('; ')})`,
            'set sources[].anchor to the attribute Entra Connect uses as sourceAnchor (ms-DS-ConsistencyGuid by default, objectGUID in older installations)',
          ),
        );
      else if (same > 0)
        out.push(
          f(
            'anchor',
            'ok',
            `adsync's anchor equals Entra Connect's sourceAnchor for the ${same} user(s) it synchronized`,
          ),
        );
      const overlap = state.objects.filter(
        (o) => ids.has(o.anchor) || (o.sid !== undefined && sids.has(o.sid.toUpperCase())),
      ).length;
      out.push(
        overlap > 0
          ? f(
              'sync-client-overlap',
              'warning',
              `${overlap} object(s) in adsync's scope are mastered by the sync client (same anchor or objectSid); ${takeover ? 'matching.takeover selects the wave to take over' : 'adsync reports them and writes nothing to them'}`,
              "take them over in small waves (matching.takeover, safety.maxTakeovers), or narrow the sources' scope",
            )
          : f(
              'sync-client-overlap',
              'ok',
              "no object in adsync's scope is mastered by the sync client (by anchor or objectSid)",
            ),
      );
    } catch (err) {
      out.push(
        f(
          'sync-client-overlap',
          'warning',
          `could not list the objects the sync client masters: ${(err as Error).message.split('\n')[0]}`,
        ),
      );
    }
  if (block === undefined) {
    out.push(
      f(
        'hard-match-block',
        'warning',
        `blockCloudObjectTakeoverThroughHardMatchEnabled can't be read (${sync.featuresUnread ?? 'not returned'}): while it is off, Entra Connect hard-matches its AD users into cloud users carrying the same onPremisesImmutableId, including those adsync creates, so plan holds such creates`,
        'check it with Get-EntraDirSyncFeature (Global Administrator); turn it on except during a deliberate matching window',
      ),
    );
  } else if (!block) {
    out.push(
      f(
        'hard-match-block',
        release ? 'ok' : 'warning',
        `blockCloudObjectTakeoverThroughHardMatchEnabled is off: Entra Connect may hard-match into cloud users with the same onPremisesImmutableId${release ? ' (needed while matching.release hands users back)' : ''}`,
        release
          ? undefined
          : 'turn it on (PATCH /directory/onPremisesSynchronization/{id}) unless a release is under way',
      ),
    );
  } else {
    out.push(
      f(
        'hard-match-block',
        release ? 'error' : 'ok',
        release
          ? "blockCloudObjectTakeoverThroughHardMatchEnabled is on: Entra Connect can't take back the users matching.release hands back"
          : "blockCloudObjectTakeoverThroughHardMatchEnabled is on: Entra Connect won't hard-match into cloud users adsync owns",
        release
          ? 'turn it off before the sync cycle that follows the release, and on again once Entra Connect has taken the users back'
          : undefined,
      ),
    );
  }
  return out;
}
