/**
 * The Entra side of takeover and release (issue 13): the source-of-authority switch and the tenant's directory
 * sync status (graph-facts-2 §2, §3.2).
 *
 * The switch is `PATCH /{users|groups}/{id}/onPremisesSyncBehavior {"isCloudManaged": …}` → 200 with the object
 * (Entra how-tos call it on /v1.0; the Graph reference pages are still beta-only, §2.1). It is verified twice
 * before anything else is written: Graph's answer must say the new value, then a read must say it too (a write
 * answered by one replica may not be visible to the next request; graph-facts §10).
 */
import type { ReleaseChange, TakeoverChange } from '../../model/change.js';
import type { DirectorySyncStatus } from '../../model/target.js';
import type { BatchRequest, SubResponse } from './batch.js';
import { GraphCallError, type Graph } from './graph.js';

export type Submit = (request: Omit<BatchRequest, 'id'>, options?: { mayLag?: boolean }) => Promise<SubResponse>;

/** What a takeover or release needs from the executor (src/connectors/entra/executor.ts). */
export interface SourceOfAuthorityIo {
  submit(
    req: Omit<BatchRequest, 'id'>,
    opts?: { mayLag?: boolean; retryIf?: (r: SubResponse) => boolean },
  ): Promise<SubResponse>;
  coll: 'users' | 'groups';
  anchorProperty: string | undefined;
  digestProperty: string | undefined;
  /** The PATCH body of the planned attributes, with the digest. */
  attributesBody(): Record<string, unknown>;
  /** Retry a write refused because adsync's extension was registered moments ago. */
  extensionLag(res: SubResponse): boolean;
  describe(res: SubResponse): string;
}

const ok = (res: SubResponse): boolean => res.status >= 200 && res.status < 300;

function describe(res: SubResponse): string {
  const e = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return `${res.status} ${e?.code ?? 'Error'}: ${e?.message ?? 'no error message'}`;
}

const PERMISSION: Record<'users' | 'groups', string> = {
  users: 'User-OnPremisesSyncBehavior.ReadWrite.All',
  groups: 'Group-OnPremisesSyncBehavior.ReadWrite.All',
};

/**
 * Switches the source of authority of one object and checks it took: undefined when it did, else what went
 * wrong (one line, with the permission to grant on a 403). Idempotent: switching to the current value is a 200.
 */
export async function switchSourceOfAuthority(
  submit: Submit,
  coll: 'users' | 'groups',
  id: string,
  cloudManaged: boolean,
): Promise<string | undefined> {
  const url = `/${coll}/${id}/onPremisesSyncBehavior`;
  const res = await submit({ method: 'PATCH', url, body: { isCloudManaged: cloudManaged } });
  if (!ok(res)) {
    const hint = res.status === 403 ? ` (grant the application permission ${PERMISSION[coll]})` : '';
    return `switch the source of authority (isCloudManaged ${cloudManaged}): ${describe(res)}${hint}`;
  }
  const answered = (res.body as { isCloudManaged?: unknown } | undefined)?.isCloudManaged;
  if (answered !== cloudManaged)
    return `switch the source of authority: Graph answered isCloudManaged ${JSON.stringify(answered ?? null)}, not ${cloudManaged}`;
  const read = await submit({ method: 'GET', url }, { mayLag: true });
  if (!ok(read)) return `read back the source of authority: ${describe(read)}`;
  const now = (read.body as { isCloudManaged?: unknown } | undefined)?.isCloudManaged;
  if (now !== cloudManaged)
    return `the source of authority reads isCloudManaged ${JSON.stringify(now ?? null)} after the switch to ${cloudManaged}`;
  return undefined;
}

/**
 * A takeover: switch to the cloud and verify, then one PATCH with adsync's anchor, the digest and the planned
 * attributes (the anchor and the values land together: an object carrying the anchor has its values). A
 * release: switch back and verify, then remove adsync's anchor and digest. Both resume: the switch is
 * idempotent, and an interrupted takeover leaves a converted object the next plan takes over again.
 */
export async function applySourceOfAuthority(
  change: TakeoverChange | ReleaseChange,
  io: SourceOfAuthorityIo,
): Promise<string | undefined> {
  if (io.anchorProperty === undefined) return "adsync's anchor extension is missing";
  const switched = await switchSourceOfAuthority(io.submit, io.coll, change.id, change.action === 'takeover');
  if (switched !== undefined) return switched;
  const body: Record<string, unknown> =
    change.action === 'takeover'
      ? { ...io.attributesBody(), [io.anchorProperty]: change.anchor }
      : { [io.anchorProperty]: null, ...(io.digestProperty !== undefined ? { [io.digestProperty]: null } : {}) };
  const res = await io.submit(
    { method: 'PATCH', url: `/${io.coll}/${change.id}`, body },
    { mayLag: true, retryIf: io.extensionLag },
  );
  if (!ok(res))
    return `${change.action === 'takeover' ? "write adsync's anchor and the attributes" : "remove adsync's anchor"} after the switch: ${io.describe(res)}`;
  return undefined;
}

/**
 * organization.onPremisesSyncEnabled (Organization.Read.All, which adsync has) and the feature flags of
 * /directory/onPremisesSynchronization, which need OnPremDirectorySynchronization.Read.All — delegated only on
 * the current Learn page (§3.2): an app-only caller usually gets 403, and the status says the flags are unread.
 */
/** The two reads readDirectorySync makes (an incremental read puts them in its `$batch`). */
export const DIRECTORY_SYNC_PATHS = {
  organization: '/organization?$select=id,onPremisesSyncEnabled,onPremisesLastSyncDateTime',
  synchronization: '/directory/onPremisesSynchronization',
} as const;

export async function readDirectorySync(graph: Pick<Graph, 'get'>): Promise<DirectorySyncStatus | undefined> {
  let status: DirectorySyncStatus;
  try {
    const org = await graph.get<{
      value?: { onPremisesSyncEnabled?: boolean | null; onPremisesLastSyncDateTime?: string | null }[];
    }>(DIRECTORY_SYNC_PATHS.organization);
    const o = org.value?.[0];
    status = { enabled: o?.onPremisesSyncEnabled ?? null };
    if (typeof o?.onPremisesLastSyncDateTime === 'string') status.lastSyncDateTime = o.onPremisesLastSyncDateTime;
  } catch {
    return undefined;
  }
  try {
    const s = await graph.get<{ value?: { features?: Record<string, unknown> }[] }>(
      DIRECTORY_SYNC_PATHS.synchronization,
    );
    const features: Record<string, boolean> = {};
    for (const [k, v] of Object.entries(s.value?.[0]?.features ?? {})) if (typeof v === 'boolean') features[k] = v;
    status.features = features;
  } catch (err) {
    status.featuresUnread =
      err instanceof GraphCallError
        ? `${err.status} ${err.code}${err.status === 403 ? ': needs OnPremDirectorySynchronization.Read.All (delegated only, Global Administrator)' : ''}`
        : (err as Error).message.split('\n')[0]!;
  }
  return status;
}
