/**
 * Turns a failed Graph call into one clear TargetError line with a hint. Messages carry the operation, the
 * status and Graph's own words; never a token or secret (the SDK's errors hold neither, and commands redact
 * every line anyway).
 */
import { TargetError } from '../../errors.js';
import { GraphCallError } from './graph.js';

const TLS_CODES =
  /SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|self[- ]signed certificate|unable to verify the first certificate|certificate/i;
const UNREACHABLE_CODES =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|UND_ERR_CONNECT_TIMEOUT|fetch failed/i;

/**
 * What each kind of operation needs, so a 403 can name the missing application permission.
 * (Graph's own 403 message, "Insufficient privileges to complete the operation.", names none.)
 */
export const PERMISSIONS: Record<string, string> = {
  organization: 'Organization.Read.All (or Directory.Read.All)',
  applications: 'Application.Read.All (or Application.ReadWrite.OwnedBy)',
  extension: 'Application.ReadWrite.OwnedBy (or Application.ReadWrite.All)',
  users: 'User.Read.All (or Directory.Read.All)',
  groups: 'Group.Read.All (or Directory.Read.All)',
  members: 'GroupMember.Read.All (or Group.Read.All)',
  deleted: 'User.Read.All and Group.Read.All (or Directory.Read.All)',
  'write-users': 'User.ReadWrite.All',
  'write-groups': 'Group.ReadWrite.All',
  'write-members': 'GroupMember.ReadWrite.All',
  roles: 'RoleManagement.Read.Directory (or Directory.Read.All)',
  skus: 'Organization.Read.All (or Directory.Read.All)',
  'write-licenses': 'LicenseAssignment.ReadWrite.All (or User.ReadWrite.All, Directory.ReadWrite.All)',
};

/** Graph's message for a failed call, with status and code: `403 Authorization_RequestDenied: Insufficient …`. */
export function graphMessage(err: GraphCallError): string {
  const status = err.status === -1 ? '' : `${err.status} `;
  const detail = err.details.find((d) => d.code === 'ObjectConflict' && d.target !== undefined);
  return `${status}${err.code}: ${err.message}${detail !== undefined ? ` (conflict on ${detail.target})` : ''}`;
}

/**
 * `what` says what adsync was doing ("reading users"); `permission` keys PERMISSIONS for 403 hints.
 * `endpoint` and `authorityHost` name where adsync was talking to.
 */
export function toTargetError(
  err: unknown,
  what: string,
  context: { endpoint: string; authorityHost?: string; permission?: string },
): TargetError {
  if (err instanceof TargetError) return err;
  if (!(err instanceof GraphCallError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new TargetError('entra_failed', `Entra: ${what} failed: ${firstLine(message)}`, { cause: err });
  }
  const name = err.code;
  // Token acquisition (@azure/identity) failures surface through the SDK with the credential error's name.
  if (
    /AuthenticationError|CredentialUnavailableError|AuthenticationRequiredError|AggregateAuthenticationError/.test(name)
  ) {
    const msg = firstLine(err.message);
    const authority = context.authorityHost ?? 'the authority';
    if (TLS_CODES.test(msg) && /certificate|CERT/.test(msg)) {
      return new TargetError(
        'entra_tls_untrusted',
        `Entra: cannot get a token from ${authority}: its TLS certificate is not trusted (${tlsReason(msg)})`,
        {
          hint: 'set target.entra.ca to the PEM of the CA that signed it (the emulator prints its certificate with --cert-out)',
          cause: err,
        },
      );
    }
    if (UNREACHABLE_CODES.test(msg) && !/AADSTS/.test(msg)) {
      return new TargetError(
        'entra_unreachable',
        `Entra: cannot reach the token authority ${authority} (${shortCause(msg)})`,
        {
          hint: 'check target.entra.authorityHost and the network path (proxy, firewall) to it',
          cause: err,
        },
      );
    }
    return new TargetError('entra_auth_failed', `Entra: could not obtain a token: ${trimAuthMessage(msg)}`, {
      hint:
        name === 'CredentialUnavailableError'
          ? 'the credential kind in target.entra.credential is not available here (missing environment variables, token file or managed identity endpoint)'
          : 'check target.entra.tenantId, the client id and its secret or certificate (AADSTS codes are explained at https://login.microsoftonline.com/error)',
      cause: err,
    });
  }
  if (err.status === -1) {
    const msg = firstLine(err.message);
    if (TLS_CODES.test(msg)) {
      return new TargetError(
        'entra_tls_untrusted',
        `Entra: the TLS certificate of ${context.endpoint} is not trusted (${tlsReason(msg)})`,
        {
          hint: 'set target.entra.ca to the PEM of the CA that signed it (the emulator prints its certificate with --cert-out)',
          cause: err,
        },
      );
    }
    return new TargetError(
      'entra_unreachable',
      `Entra: cannot reach ${context.endpoint} while ${what} (${shortCause(msg)})`,
      {
        hint: 'check target.entra.endpoint and the network path (proxy, firewall) to it',
        cause: err,
      },
    );
  }
  if (err.status === 401) {
    return new TargetError(
      'entra_unauthorized',
      `Entra: Graph rejected the token while ${what}: ${graphMessage(err)}`,
      {
        hint: 'the token is for another tenant or audience, or has expired; check target.entra.tenantId and endpoint',
        cause: err,
      },
    );
  }
  if (err.status === 403) {
    const perm = context.permission !== undefined ? PERMISSIONS[context.permission] : undefined;
    const named = /permission[s]? (?:is|are) missing|requires? (?:one of )?(?:the )?(?:following )?permission/i.test(
      err.message,
    );
    return new TargetError('entra_forbidden', `Entra: access denied while ${what}: ${graphMessage(err)}`, {
      hint:
        named || perm === undefined
          ? 'grant the application permission Graph names above, with admin consent'
          : `the application needs the ${perm} application permission, with admin consent`,
      cause: err,
    });
  }
  return new TargetError('entra_request_failed', `Entra: ${what} failed: ${graphMessage(err)}`, {
    hint:
      err.status === 429 || err.status >= 500
        ? 'Graph is busy or failing; run again later'
        : "see Graph's message above",
    cause: err,
  });
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/).find((l) => l.trim() !== '') ?? s;
  return line.trim();
}

function shortCause(msg: string): string {
  const m =
    /(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|UND_ERR_CONNECT_TIMEOUT)[^)]*/.exec(
      msg,
    );
  return m !== null ? m[0].trim() : msg.slice(0, 160);
}

function tlsReason(msg: string): string {
  const m =
    /(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)/.exec(
      msg,
    );
  if (m !== null) return m[1] ?? m[0];
  const s = /self[- ]signed certificate(?: in certificate chain)?|unable to verify the first certificate/i.exec(msg);
  return s !== null ? s[0] : msg.slice(0, 120);
}

/** MSAL messages are long; keep the AADSTS line (which names the problem) and drop trace/correlation ids. */
function trimAuthMessage(msg: string): string {
  const aad = /AADSTS\d+:[^.]*\./.exec(msg);
  if (aad !== null) return aad[0];
  return msg.replace(/\s*Trace ID:.*$/i, '').slice(0, 300);
}
