/**
 * `state: { azureBlob: … }`: state as blobs under `<container>/<prefix>/`, for pipeline runners that have no
 * lasting disk. Writes are conditional on the ETag (`If-Match`, or `If-None-Match: *` to create), so two runs
 * never overwrite each other's state. The lock is a 60 s lease on the blob `<prefix>/.lock`, renewed every
 * 20 s while held: a run that dies frees it within a minute by itself (unlike Terraform's infinite lease),
 * and a live run keeps it. The holder is recorded in that blob's metadata, so a refused run can name it;
 * breaking a lease takes `breakLock` naming the holder (`adsync unlock`).
 *
 * No secret is stored or printed: errors carry the service's error code, never its request (whose headers
 * carry the signature) nor the client URL's query (a SAS).
 */
import { randomUUID } from 'node:crypto';
import { RestError } from '@azure/storage-blob';
import type { BlobLeaseClient, ContainerClient } from '@azure/storage-blob';
import {
  checkName,
  parseHolder,
  StateConflictError,
  StateError,
  StateLockedError,
  StateLockLostError,
  StateUnlockRefusedError,
} from './backend.js';
import type { HeldStateLock, LockHolder, StateBackend, StateObject, WriteCondition } from './backend.js';

/** A state name never starts with '.', so no state can be named like the lock. */
const LOCK_BLOB = '.lock';
const HOLDER_KEY = 'adsyncholder';
const MAX_BLOCK = 4 * 1024 * 1024;

/** Runs `fn` every `ms` until the returned function is called: the lease renewal's timer, injectable for tests. */
export type Every = (ms: number, fn: () => void) => () => void;

/** setInterval, unref'd: the renewal must not keep a finished process alive (a process that exits lets the lease expire). */
export const realEvery: Every = (ms, fn) => {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface AzureBlobStateOptions {
  /** Lease length in seconds (Azure allows 15–60). Default 60. */
  leaseSeconds?: number;
  /** Renewal period while held, in ms. Default 20,000 (a third of the lease); 0: never renew. */
  renewEveryMs?: number;
  /** The renewal timer (default realEvery). */
  every?: Every;
}

function statusOf(err: unknown): { status: number | undefined; code: string | undefined } {
  if (err instanceof RestError) return { status: err.statusCode, code: err.code };
  return { status: undefined, code: undefined };
}

/** The client URL without its query string (which would hold a SAS). */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(storage account)';
  }
}

export class AzureBlobState implements StateBackend {
  readonly location: string;
  private readonly prefix: string;
  private readonly leaseSeconds: number;
  private readonly renewEveryMs: number;
  private readonly every: Every;
  private containerChecked = false;

  constructor(
    private readonly container: ContainerClient,
    prefix = '',
    options: AzureBlobStateOptions = {},
  ) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, '');
    this.location = `${safeUrl(container.url)}${this.prefix ? `/${this.prefix}` : ''}`;
    this.leaseSeconds = options.leaseSeconds ?? 60;
    this.renewEveryMs = options.renewEveryMs ?? 20_000;
    this.every = options.every ?? realEvery;
  }

  private blobName(name: string): string {
    const n = checkName(name);
    return this.prefix ? `${this.prefix}/${n}` : n;
  }

  /** One wrapped error for failures that are not a lost condition: code and status only. */
  private fail(what: string, err: unknown): StateError {
    const { status, code } = statusOf(err);
    const detail =
      code ??
      (status !== undefined
        ? `HTTP ${status}`
        : ((err as { code?: string }).code ?? (err instanceof Error ? err.name : 'error')));
    return new StateError(
      'state_unavailable',
      `cannot ${what} in ${this.location}: ${detail}`,
      status === 403 || status === 401
        ? 'the identity needs Storage Blob Data Contributor on the container (or Data Owner)'
        : 'check state.azureBlob (accountUrl, container) and that the storage account is reachable',
    );
  }

  /** Creates the container on first use when the identity may; a role limited to blobs just skips this. */
  private async ensureContainer(): Promise<void> {
    if (this.containerChecked) return;
    try {
      await this.container.createIfNotExists();
    } catch (err) {
      const { status } = statusOf(err);
      if (status !== 403) throw this.fail('create the container', err);
    }
    this.containerChecked = true;
  }

  async read(name: string): Promise<StateObject | undefined> {
    const blob = this.container.getBlobClient(this.blobName(name));
    try {
      const res = await blob.download(0);
      const chunks: Buffer[] = [];
      for await (const chunk of res.readableStreamBody as NodeJS.ReadableStream)
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      return { bytes: Buffer.concat(chunks), etag: String(res.etag) };
    } catch (err) {
      if (statusOf(err).status === 404) return undefined;
      throw this.fail(`read state ${name}`, err);
    }
  }

  async write(name: string, bytes: Buffer | Uint8Array, condition?: WriteCondition): Promise<string> {
    await this.ensureContainer();
    const blob = this.container.getBlockBlobClient(this.blobName(name));
    try {
      const res = await blob.upload(bytes, bytes.byteLength, {
        ...(condition
          ? { conditions: 'ifMatch' in condition ? { ifMatch: condition.ifMatch } : { ifNoneMatch: '*' } }
          : {}),
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
      return String(res.etag);
    } catch (err) {
      const { status, code } = statusOf(err);
      // 412 ConditionNotMet (stale ETag), 409 BlobAlreadyExists (create-only on an existing blob).
      if (condition && (status === 412 || (status === 409 && code === 'BlobAlreadyExists'))) {
        throw new StateConflictError(name, this.location, code ?? `HTTP ${status}`);
      }
      throw this.fail(`write state ${name}`, err);
    }
  }

  async append(name: string, bytes: Buffer | Uint8Array, condition: WriteCondition): Promise<string> {
    await this.ensureContainer();
    const blob = this.container.getAppendBlobClient(this.blobName(name));
    try {
      let etag = 'ifMatch' in condition ? condition.ifMatch : undefined;
      if (etag === undefined) etag = String((await blob.create({ conditions: { ifNoneMatch: '*' } })).etag);
      // One block holds at most 4 MiB: a larger batch goes in several, each conditional on the one before.
      for (let at = 0; at < bytes.byteLength; at += MAX_BLOCK) {
        const part = bytes.subarray(at, at + MAX_BLOCK);
        etag = String((await blob.appendBlock(part, part.byteLength, { conditions: { ifMatch: etag } })).etag);
      }
      return etag;
    } catch (err) {
      const { status, code } = statusOf(err);
      if (status === 412 || (status === 409 && code === 'BlobAlreadyExists'))
        throw new StateConflictError(name, this.location, code ?? `HTTP ${status}`);
      throw this.fail(`append to state ${name}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.prefix ? `${this.prefix}/` : '';
    const names: string[] = [];
    try {
      for await (const item of this.container.listBlobsFlat({ prefix: `${base}${prefix}` })) {
        const name = item.name.slice(base.length);
        if (!name.includes('/') && !name.startsWith('.')) names.push(name);
      }
    } catch (err) {
      if (statusOf(err).status === 404) return [];
      throw this.fail('list the state', err);
    }
    return names.sort();
  }

  async remove(name: string): Promise<void> {
    try {
      await this.container.getBlobClient(this.blobName(name)).deleteIfExists();
    } catch (err) {
      throw this.fail(`remove state ${name}`, err);
    }
  }

  private lockBlob() {
    return this.container.getBlockBlobClient(this.prefix ? `${this.prefix}/${LOCK_BLOB}` : LOCK_BLOB);
  }

  /** The lease state and recorded holder of the lock blob (undefined holder: nobody holds a live lease). */
  async lockStatus(): Promise<{
    leaseState: string | undefined;
    leaseDuration: string | undefined;
    holder: LockHolder | undefined;
    etag: string | undefined;
  }> {
    try {
      const p = await this.lockBlob().getProperties();
      const held = p.leaseState === 'leased' || p.leaseState === 'breaking';
      const raw = p.metadata?.[HOLDER_KEY];
      const holder = held && raw ? parseHolder(Buffer.from(raw, 'base64').toString('utf8')) : undefined;
      return { leaseState: p.leaseState, leaseDuration: p.leaseDuration, holder, etag: p.etag };
    } catch (err) {
      if (statusOf(err).status === 404)
        return { leaseState: undefined, leaseDuration: undefined, holder: undefined, etag: undefined };
      throw this.fail('read the lock', err);
    }
  }

  async describeHolder(): Promise<LockHolder | undefined> {
    return (await this.lockStatus()).holder;
  }

  async acquireLock(who: Omit<LockHolder, 'since'>): Promise<HeldStateLock> {
    await this.ensureContainer();
    const blob = this.lockBlob();
    try {
      await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      const { status } = statusOf(err);
      // 409: it exists; 412: it exists and is leased right now. Either way there is a blob to lease.
      if (status !== 409 && status !== 412) throw this.fail('create the lock blob', err);
    }
    const lease = blob.getBlobLeaseClient(randomUUID());
    try {
      await lease.acquireLease(this.leaseSeconds);
    } catch (err) {
      const { status } = statusOf(err);
      if (status === 409) throw new StateLockedError(this.location, await this.describeHolder());
      throw this.fail('take the lock', err);
    }
    const holder: LockHolder = { ...who, since: new Date().toISOString() };
    try {
      await blob.setMetadata(
        { [HOLDER_KEY]: Buffer.from(JSON.stringify(holder), 'utf8').toString('base64') },
        { conditions: { leaseId: lease.leaseId } },
      );
    } catch (err) {
      await lease.releaseLease().catch(() => undefined);
      throw this.fail('record the lock holder', err);
    }
    return this.held(lease, holder);
  }

  private held(lease: BlobLeaseClient, holder: LockHolder): HeldStateLock {
    let renewals = 0;
    let lost: string | undefined;
    let released = false;
    let renewing: Promise<void> = Promise.resolve();
    // A broken or re-taken lease (409/412) is lost at once; a storage hiccup only once the lease may have run out.
    let failures = 0;
    const tolerated = Math.max(1, Math.floor((this.leaseSeconds * 1000) / Math.max(1, this.renewEveryMs)) - 1);
    const stop =
      this.renewEveryMs > 0
        ? this.every(this.renewEveryMs, () => {
            if (lost !== undefined) return;
            renewing = lease.renewLease().then(
              () => {
                renewals++;
                failures = 0;
              },
              (err: unknown) => {
                const { status, code } = statusOf(err);
                if (status === 409 || status === 412 || ++failures >= tolerated)
                  lost ??= `renewal failed: ${code ?? 'unreachable'}`;
              },
            );
          })
        : undefined;
    return {
      holder,
      get renewals() {
        return renewals;
      },
      assertHeld: () => {
        if (lost !== undefined) throw new StateLockLostError(this.location, lost);
      },
      release: async () => {
        if (released) return;
        released = true;
        stop?.();
        await renewing;
        if (lost !== undefined) return;
        try {
          await this.lockBlob().setMetadata({}, { conditions: { leaseId: lease.leaseId } });
          await lease.releaseLease();
        } catch (err) {
          // A lease broken by `adsync unlock` or expired and re-taken is no longer ours to release.
          if (statusOf(err).status !== 409 && statusOf(err).status !== 412) throw this.fail('release the lock', err);
        }
      },
    };
  }

  async breakLock(expected: { runId: string }): Promise<void> {
    const status = await this.lockStatus();
    if (status.holder === undefined || status.holder.runId !== expected.runId)
      throw new StateUnlockRefusedError(this.location, expected.runId, status.holder);
    try {
      // If-Match: a run that took the lock since we looked (and wrote its holder) keeps it.
      await this.lockBlob()
        .getBlobLeaseClient()
        .breakLease(0, { conditions: { ifMatch: status.etag! } });
    } catch (err) {
      if (statusOf(err).status === 412)
        throw new StateUnlockRefusedError(this.location, expected.runId, await this.describeHolder());
      throw this.fail('break the lock', err);
    }
  }
}
