/**
 * The state backend a spec asks for (DESIGN §5 `state:`). Absent or `local`: files in `local.dir`, else
 * `$ADSYNC_STATE_DIR`, else `.adsync/` next to the spec. `azureBlob`: a container reached with a
 * TokenCredential built as target.entra's, or a connection string read from the environment (never stored).
 */
import { join, resolve } from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import { buildCredential } from '../connectors/entra/credential.js';
import { DEFAULT_ENDPOINT } from '../spec/normalize.js';
import type { EntraTargetSpec, Spec } from '../spec/types.js';
import type { AzureBlobStateOptions } from './azure-blob.js';
import { StateError } from './backend.js';
import type { StateBackend } from './backend.js';
import { LocalState } from './local.js';

export interface OpenStateOptions {
  env?: NodeJS.ProcessEnv;
  /** A credential to use instead of building one from state.azureBlob.credential (tests, embedding). */
  credential?: TokenCredential;
  azureBlob?: AzureBlobStateOptions;
}

export function localStateDir(spec: Pick<Spec, 'dir' | 'state'>, env: NodeJS.ProcessEnv = process.env): string {
  const dir = spec.state !== undefined && 'local' in spec.state ? spec.state.local.dir : undefined;
  if (dir !== undefined) return resolve(spec.dir, dir);
  const fromEnv = env['ADSYNC_STATE_DIR'];
  return fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv) : join(spec.dir, '.adsync');
}

export async function openState(
  spec: Pick<Spec, 'dir' | 'state' | 'target'>,
  options: OpenStateOptions = {},
): Promise<StateBackend> {
  const env = options.env ?? process.env;
  const state = spec.state;
  if (state === undefined || 'local' in state) return new LocalState(localStateDir(spec, env));
  const az = state.azureBlob;
  // The storage SDK is loaded only for a spec that keeps its state there (start-up time of every other run).
  const [{ BlobServiceClient }, { AzureBlobState }] = await Promise.all([
    import('@azure/storage-blob'),
    import('./azure-blob.js'),
  ]);
  let service: BlobServiceClient;
  if (az.connectionString !== undefined) {
    const name = az.connectionString.env;
    const value = env[name];
    if (value === undefined || value === '') {
      throw new StateError(
        'state_credential_missing',
        `state.azureBlob.connectionString: environment variable ${name} is not set`,
        `set ${name} to the storage account's connection string (in the pipeline's secret variables), or use state.azureBlob.credential`,
      );
    }
    try {
      service = BlobServiceClient.fromConnectionString(value);
    } catch {
      // The SDK's message may quote parts of the string: say only where it came from.
      throw new StateError(
        'state_credential_invalid',
        `state.azureBlob.connectionString: ${name} does not hold a valid storage connection string`,
        'copy it from the storage account\'s "Access keys" page, or use a SAS connection string with BlobEndpoint',
      );
    }
  } else {
    let credential = options.credential;
    if (credential === undefined) {
      const entra: EntraTargetSpec = {
        ...(spec.target.entra ?? { tenantId: { env: 'AZURE_TENANT_ID' }, endpoint: DEFAULT_ENDPOINT }),
        credential: az.credential ?? { kind: 'default' },
      };
      credential = (await buildCredential(entra, spec.dir, env)).credential;
    }
    service = new BlobServiceClient(az.accountUrl, credential);
  }
  return new AzureBlobState(service.getContainerClient(az.container), az.prefix ?? '', options.azureBlob ?? {});
}
