/**
 * Builds the @azure/identity credential the spec asks for. Secrets come only from references (readSecret
 * registers them for redaction); the spec never holds one.
 */
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { readSecret, resolveOptional, resolvePathValue, resolveValue } from '../../spec/resolve.js';
import type { EntraTargetSpec } from '../../spec/types.js';
import { TargetError } from '../../errors.js';
import { azurePipelinesFromEnv, githubActionsOidcFromEnv } from './pipeline-credentials.js';

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** Authority hosts of Microsoft's clouds, where MSAL's instance discovery works. */
const PUBLIC_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
  'login.windows.net',
  'login.microsoft.com',
  'login.sts.microsoft.com',
]);

/**
 * MSAL asks the public cloud for instance discovery before it trusts an authority; anywhere else (the
 * emulator, a private authority) that request fails offline, so it must be turned off (DESIGN §6).
 */
export function needsInstanceDiscoveryDisabled(authorityHost: string): boolean {
  let host: string;
  try {
    host = new URL(authorityHost).hostname.toLowerCase();
  } catch {
    return true;
  }
  return !PUBLIC_AUTHORITY_HOSTS.has(host);
}

export interface BuiltCredential {
  credential: TokenCredential;
  /** The app's client id when the spec or environment names it (used to find adsync's extension). */
  clientId: string | undefined;
  authorityHost: string;
}

export async function buildCredential(
  spec: EntraTargetSpec,
  specDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuiltCredential> {
  const where = 'target.entra';
  const tenantId = resolveValue(spec.tenantId, `${where}.tenantId`, env);
  const authorityHost =
    resolveOptional(spec.authorityHost, `${where}.authorityHost`, env) ??
    env['AZURE_AUTHORITY_HOST'] ??
    DEFAULT_AUTHORITY_HOST;
  if (!authorityHost.startsWith('https://')) {
    throw new TargetError(
      'entra_authority_insecure',
      `${where}.authorityHost must be an https:// URL (got ${authorityHost})`,
      {
        hint: 'MSAL refuses non-https authorities; serve the authority over TLS and trust its CA with target.entra.ca',
      },
    );
  }
  const common = {
    authorityHost,
    ...(needsInstanceDiscoveryDisabled(authorityHost) ? { disableInstanceDiscovery: true } : {}),
  };
  const cred = spec.credential;
  switch (cred.kind) {
    case 'client-secret': {
      const clientId = resolveValue(cred.clientId, `${where}.credential.clientId`, env);
      const secret = await readSecret(cred.secret, `${where}.credential.secret`, specDir, env);
      return { credential: new ClientSecretCredential(tenantId, clientId, secret, common), clientId, authorityHost };
    }
    case 'client-certificate': {
      const clientId = resolveValue(cred.clientId, `${where}.credential.clientId`, env);
      const pem = await readSecret(cred.certificate, `${where}.credential.certificate`, specDir, env);
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) || !pem.includes('-----BEGIN CERTIFICATE-----')) {
        throw new TargetError(
          'entra_certificate_invalid',
          `${where}.credential.certificate must be a PEM holding both the certificate and its private key`,
          {
            hint: 'concatenate the certificate and the unencrypted private key into one PEM',
          },
        );
      }
      return {
        credential: new ClientCertificateCredential(tenantId, clientId, { certificate: pem }, common),
        clientId,
        authorityHost,
      };
    }
    case 'workload-identity': {
      const clientId = resolveOptional(cred.clientId, `${where}.credential.clientId`, env) ?? env['AZURE_CLIENT_ID'];
      const tokenFilePath =
        cred.tokenFile !== undefined
          ? resolvePathValue(cred.tokenFile, `${where}.credential.tokenFile`, specDir, env)
          : env['AZURE_FEDERATED_TOKEN_FILE'];
      if (clientId === undefined || tokenFilePath === undefined) {
        throw new TargetError(
          'entra_credential_incomplete',
          `${where}.credential (workload-identity) needs a client id and a federated token file`,
          {
            hint: "set credential.clientId and credential.tokenFile, or AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (your pipeline's OIDC step provides the file)",
          },
        );
      }
      return {
        credential: new WorkloadIdentityCredential({ ...common, tenantId, clientId, tokenFilePath }),
        clientId,
        authorityHost,
      };
    }
    case 'github-actions-oidc': {
      const clientId = resolveOptional(cred.clientId, `${where}.credential.clientId`, env) ?? env['AZURE_CLIENT_ID'];
      const audience = resolveOptional(cred.audience, `${where}.credential.audience`, env);
      return {
        credential: githubActionsOidcFromEnv(tenantId, clientId, audience, env, common),
        clientId,
        authorityHost,
      };
    }
    case 'azure-pipelines': {
      const clientId =
        resolveOptional(cred.clientId, `${where}.credential.clientId`, env) ??
        env['AZURESUBSCRIPTION_CLIENT_ID'] ??
        env['AZURE_CLIENT_ID'];
      const connection =
        resolveOptional(cred.serviceConnectionId, `${where}.credential.serviceConnectionId`, env) ??
        env['AZURESUBSCRIPTION_SERVICE_CONNECTION_ID'];
      return {
        credential: azurePipelinesFromEnv(tenantId, clientId, connection, env, common),
        clientId,
        authorityHost,
      };
    }
    case 'managed-identity': {
      const clientId = resolveOptional(cred.clientId, `${where}.credential.clientId`, env);
      const credential =
        clientId === undefined ? new ManagedIdentityCredential() : new ManagedIdentityCredential({ clientId });
      return { credential, clientId, authorityHost };
    }
    case 'environment':
      return { credential: new EnvironmentCredential(common), clientId: env['AZURE_CLIENT_ID'], authorityHost };
    case 'default':
      return {
        credential: new DefaultAzureCredential({ ...common, tenantId }),
        clientId: env['AZURE_CLIENT_ID'],
        authorityHost,
      };
    default: {
      const never: never = cred;
      throw new TargetError('entra_credential_unknown', `${where}.credential: unknown kind ${JSON.stringify(never)}`);
    }
  }
}
