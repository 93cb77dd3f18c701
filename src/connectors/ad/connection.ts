/**
 * Connecting to a domain controller: settings from the spec (values and secrets resolved on use), TLS that
 * verifies by default, simple bind, and every failure turned into one clear SourceError with a hint.
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import {
  Client,
  InvalidCredentialsError,
  NoSuchObjectError,
  InsufficientAccessError,
  StrongAuthRequiredError,
  ConfidentialityRequiredError,
  ResultCodeError,
} from 'ldapts';
import { AdsyncError, SourceError } from '../../errors.js';
import { readSecret, resolveOptional, resolvePathValue, resolveValue } from '../../spec/resolve.js';
import type { SourceSpec } from '../../spec/types.js';
import { urlHasCredentials } from '../../spec/secret-rules.js';

export interface LdapSettings {
  source: string;
  url: string;
  /** Host and port from the URL, for messages and TLS name checks. */
  host: string;
  port: number;
  secure: boolean;
  startTls: boolean;
  bindDn: string;
  password: string;
  /** Absolute path of the CA PEM, when the spec names one. */
  caPath?: string;
  insecureSkipVerify: boolean;
  baseDn?: string;
  pageSize: number;
}

export interface ConnectOptions {
  env?: NodeJS.ProcessEnv;
  /** Where warnings go (default: stderr). */
  warn?: (line: string) => void;
  /** TCP + TLS connect timeout, ms (default 10 s). */
  connectTimeoutMs?: number;
  /** Per-operation timeout, ms (default 5 min). */
  operationTimeoutMs?: number;
}

/** Resolves a source's LDAP settings, reading the password secret. Throws SourceError/AdsyncError. */
export async function resolveLdapSettings(
  spec: SourceSpec,
  specDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LdapSettings> {
  const ldap = spec.ldap;
  const where = `sources[${spec.name}].ldap`;
  if (!ldap)
    throw new SourceError('source_not_ldap', `source ${spec.name} has no ldap settings`, {
      hint: 'give the source an `ldap:` block (url, bindDn, password)',
    });
  const url = resolveValue(ldap.url, `${where}.url`, env);
  if (urlHasCredentials(url)) {
    throw new SourceError(
      'ldap_url_credentials',
      `${where}.url holds credentials in the URL (user:password@host; not shown)`,
      {
        hint: `put the account in ${where}.bindDn and the password in ${where}.password as { env: NAME } or { file: PATH }`,
      },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SourceError('ldap_url_invalid', `${where}.url: ${JSON.stringify(url)} is not a URL`, {
      hint: 'use ldaps://dc1.corp.example (or ldap://… with startTls: true)',
    });
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'ldap' && scheme !== 'ldaps') {
    throw new SourceError('ldap_url_invalid', `${where}.url: scheme ${scheme}: is not ldap: or ldaps:`, {
      hint: 'use ldaps://dc1.corp.example (or ldap://… with startTls: true)',
    });
  }
  const secure = scheme === 'ldaps';
  const startTls = ldap.startTls === true;
  if (!secure && !startTls) {
    throw new SourceError(
      'ldap_cleartext',
      `${where}: ${url} without startTls would send the bind password in clear text`,
      {
        hint: `use an ldaps:// URL, or set ${where}.startTls: true`,
      },
    );
  }
  if (secure && startTls) {
    throw new SourceError('ldap_url_invalid', `${where}: startTls is for ldap:// URLs; ${url} is already TLS`, {
      hint: `remove ${where}.startTls, or use an ldap:// URL`,
    });
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port ? Number(parsed.port) : secure ? 636 : 389;
  const bindDn = resolveValue(ldap.bindDn, `${where}.bindDn`, env);
  const password = await readSecret(ldap.password, `${where}.password`, specDir, env);
  const caPath = ldap.ca === undefined ? undefined : resolvePathValue(ldap.ca, `${where}.ca`, specDir, env);
  const baseDn = resolveOptional(ldap.baseDn, `${where}.baseDn`, env);
  const pageSize = Math.min(1000, Math.max(1, Math.trunc(ldap.pageSize || 1000)));
  return {
    source: spec.name,
    url,
    host,
    port,
    secure,
    startTls,
    bindDn,
    password,
    ...(caPath === undefined ? {} : { caPath }),
    insecureSkipVerify: ldap.tlsInsecureSkipVerify === true,
    ...(baseDn === undefined || baseDn === '' ? {} : { baseDn }),
    pageSize,
  };
}

async function tlsOptions(s: LdapSettings, warn: (line: string) => void): Promise<ConnectionOptions> {
  const opts: ConnectionOptions = { minVersion: 'TLSv1.2' };
  if (s.caPath !== undefined) {
    try {
      opts.ca = [await readFile(s.caPath)];
    } catch (err) {
      throw new SourceError(
        'ldap_ca_unreadable',
        `sources[${s.source}].ldap.ca: cannot read ${s.caPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          hint: 'point ca at the PEM file of the CA that issued the domain controller certificate (relative paths are relative to the spec)',
        },
      );
    }
  }
  if (s.insecureSkipVerify) {
    warn(
      `WARNING: sources[${s.source}].ldap.tlsInsecureSkipVerify is true: the certificate of ${s.host}:${s.port} is NOT verified. ` +
        'Anyone on the network path can impersonate the domain controller and capture the bind password. Set ldap.ca instead.',
    );
    opts.rejectUnauthorized = false;
  }
  return opts;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const TLS_VALIDITY_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
]);

export interface ErrorContext {
  /** What was being done, e.g. "bind", "search OU=Sales,DC=corp,DC=example". */
  base?: string;
}

/** Turns anything ldapts, net or tls throws into one clear SourceError line plus a hint. */
export function mapLdapError(
  err: unknown,
  s: Pick<LdapSettings, 'source' | 'url' | 'host' | 'port' | 'bindDn' | 'caPath'>,
  ctx: ErrorContext = {},
): AdsyncError {
  if (err instanceof AdsyncError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string | number };
  const where = `sources[${s.source}].ldap`;
  const target = `${s.host}:${s.port}`;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = String(e?.message ?? err);
  if (err instanceof InvalidCredentialsError) {
    // AD puts the reason in the diagnostic message: "... data 52e" (bad password), 525 (no such user), 775 (locked) ...
    const data = /data ([0-9a-f]{3})/i.exec(message)?.[1]?.toLowerCase();
    const reason: Record<string, string> = {
      '525': 'no such user',
      '52e': 'wrong password',
      '530': 'logon not permitted at this time',
      '531': 'logon not permitted from this workstation',
      '532': 'password expired',
      '533': 'account disabled',
      '701': 'account expired',
      '773': 'password must be reset',
      '775': 'account locked out',
    };
    const why = data ? (reason[data] ?? `AD data code ${data}`) : 'wrong bind DN or password';
    return new SourceError(
      'ldap_invalid_credentials',
      `LDAP bind to ${target} as ${s.bindDn} failed: invalid credentials (LDAP 49, ${why})`,
      {
        hint: `check ${where}.bindDn and the secret behind ${where}.password; the account must be enabled and its password not expired`,
        cause: err,
      },
    );
  }
  if (err instanceof NoSuchObjectError) {
    return new SourceError(
      'ldap_no_such_object',
      `search base ${ctx.base ?? '(unknown)'} does not exist on ${target} (LDAP 32 noSuchObject)`,
      {
        hint: `check the DN in the spec (${where}.baseDn, scope.ous, scope.domains): it must name an existing OU, container or domain`,
        cause: err,
      },
    );
  }
  if (err instanceof InsufficientAccessError) {
    return new SourceError(
      'ldap_insufficient_access',
      `${s.bindDn} may not read ${ctx.base ?? 'the directory'} on ${target} (LDAP 50 insufficientAccessRights)`,
      {
        hint: 'grant the sync account read access (Read all properties, List contents) on the scoped OUs; `adsync doctor` shows what is missing',
        cause: err,
      },
    );
  }
  if (err instanceof StrongAuthRequiredError || err instanceof ConfidentialityRequiredError) {
    return new SourceError('ldap_tls_required', `${target} refuses a simple bind without TLS (LDAP ${err.code})`, {
      hint: `use an ldaps:// URL or ${where}.startTls: true`,
      cause: err,
    });
  }
  if (code && TLS_TRUST_CODES.has(code)) {
    return new SourceError('ldap_tls_untrusted', `TLS to ${target}: the certificate is not trusted (${code})`, {
      hint: s.caPath
        ? `${where}.ca (${s.caPath}) is not the CA that issued this DC's certificate; point ${where}.ca at the issuing CA's PEM`
        : `set ${where}.ca to the PEM of the CA that issued the DC's certificate (export it from your AD CS / the DC)`,
      cause: err,
    });
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new SourceError(
      'ldap_tls_name_mismatch',
      `TLS to ${target}: the certificate is not valid for the name ${s.host} (${message.split('\n')[0]})`,
      {
        hint: `use a host name in ${where}.url that the DC's certificate names (its subjectAltName)`,
        cause: err,
      },
    );
  }
  if (code && TLS_VALIDITY_CODES.has(code)) {
    return new SourceError(
      'ldap_tls_expired',
      `TLS to ${target}: the certificate is outside its validity period (${code})`,
      {
        hint: "renew the domain controller's certificate (or fix this machine's clock)",
        cause: err,
      },
    );
  }
  if ((code && UNREACHABLE_CODES.has(code)) || /^Connection timeout/.test(message)) {
    const why = code ?? 'connect timed out';
    return new SourceError('ldap_unreachable', `cannot reach ${s.url} (${why})`, {
      hint: `check ${where}.url, DNS, and that port ${s.port} is open from here to the domain controller`,
      cause: err,
    });
  }
  if (/Operation timed out/.test(message)) {
    return new SourceError('ldap_timeout', `LDAP operation on ${target} timed out${ctx.base ? ` (${ctx.base})` : ''}`, {
      hint: 'the DC is slow or overloaded; retry, or narrow the scope',
      cause: err,
    });
  }
  if (/Socket error|socket hang up|closed/i.test(message) && !code) {
    return new SourceError(
      'ldap_connection_lost',
      `connection to ${target} was lost: ${message.split('\n').slice(-1)[0]}`,
      {
        hint: 'check the DC and the network path; a TLS-terminating proxy may be dropping the connection',
        cause: err,
      },
    );
  }
  if (err instanceof ResultCodeError) {
    return new SourceError(
      'ldap_error',
      `LDAP error from ${target}${ctx.base ? ` on ${ctx.base}` : ''}: ${message.split('\n')[0]} (LDAP ${err.code})`,
      {
        hint: 'run `adsync doctor` to check the connection, the account and its permissions',
        cause: err,
      },
    );
  }
  return new SourceError('ldap_error', `LDAP ${target}: ${message.split('\n')[0]}${code ? ` (${code})` : ''}`, {
    hint: 'run `adsync doctor` to check the connection, the account and its permissions',
    cause: err,
  });
}

/** An open, TLS-protected, not yet bound connection. */
export interface LdapConnection {
  client: Client;
  settings: LdapSettings;
  /** Binds with the settings' account; SourceError on failure. */
  bind(): Promise<void>;
  close(): Promise<void>;
}

/** Connects (TLS verified unless turned off) without binding. Throws SourceError on network/TLS failure. */
export async function openLdap(s: LdapSettings, options: ConnectOptions = {}): Promise<LdapConnection> {
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tls = await tlsOptions(s, warn);
  const client = new Client({
    url: s.url,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    timeout: options.operationTimeoutMs ?? 300_000,
    strictDN: false,
    ...(s.secure ? { tlsOptions: tls } : {}),
  });
  const close = async () => {
    try {
      await client.unbind();
    } catch {
      /* closing anyway */
    }
  };
  try {
    if (s.startTls) {
      await client.startTLS({ ...tls, host: s.host });
    } else {
      // ldapts connects lazily; a rootDSE read makes the TCP + TLS handshake happen now, before any secret is sent.
      await client.search('', { scope: 'base', attributes: ['1.1'] });
    }
  } catch (err) {
    await close();
    throw mapLdapError(err, s);
  }
  return {
    client,
    settings: s,
    bind: async () => {
      try {
        await client.bind(s.bindDn, s.password);
      } catch (err) {
        throw mapLdapError(err, s);
      }
    },
    close,
  };
}
