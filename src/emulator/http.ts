/**
 * The request/response shapes every handler uses, whether the request came over HTTPS or from inside a
 * `$batch`, and Graph's error body (graph-facts §9).
 */
import { randomUUID } from 'node:crypto';

export interface GraphRequest {
  method: string;
  /** Path after `/v1.0`, decoded per segment: ['users', '{id}', ...]. */
  segments: string[];
  /** The path as requested (after `/v1.0`, still encoded), for nextLinks. */
  rawPath: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: unknown;
  requestId: string;
  clientRequestId: string | undefined;
  /** When the request arrived (ms since epoch); replication lag and throttling read it. */
  now: number;
  /** https://127.0.0.1:PORT */
  base: string;
  /** The `roles` claim of the caller's token (application permissions); undefined = not checked. */
  roles?: ReadonlySet<string>;
}

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON value, a plain string (text/plain), or undefined for no body. */
  body?: unknown;
}

export interface ErrorDetail {
  code: string;
  message?: string;
  target?: string;
}

/** A Graph error a handler throws; the router turns it into the error body. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Graph's innerError date: ISO without milliseconds or zone, e.g. 2025-02-13T10:17:06 (graph-facts §9). */
export function graphDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

export function errorResponse(
  req: Pick<GraphRequest, 'requestId' | 'clientRequestId' | 'now'>,
  e: GraphError,
): GraphResponse {
  const innerError: Record<string, string> = { date: graphDate(req.now), 'request-id': req.requestId };
  if (req.clientRequestId) innerError['client-request-id'] = req.clientRequestId;
  const error: Record<string, unknown> = { code: e.code, message: e.message, innerError };
  if (e.details) error['details'] = e.details;
  return { status: e.status, headers: { ...e.headers }, body: { error } };
}

export const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): GraphResponse {
  return { status, headers, body };
}

export function noContent(): GraphResponse {
  return { status: 204, headers: {} };
}

export function newRequestId(): string {
  return randomUUID();
}

// ---- the messages graph-facts quotes ----

/** graph-facts §2 Members and §8: missing (or not yet replicated) object. */
export function notFound(id: string): GraphError {
  return new GraphError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

/**
 * An unknown segment (relationship, action) after an entity: the OData router's 400 — never the 404
 * Request_ResourceNotFound that clients treat as replication lag and retry (issue 12 item 1).
 */
export function segmentNotFound(segment: string): GraphError {
  return new GraphError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
}

/**
 * Relationships and actions real Graph has on users and groups (v1.0 CSDL) that the emulator doesn't implement:
 * they answer 501 NotImplemented, so a client sees "not here", not "no such object" or "no such segment".
 */
export const UNIMPLEMENTED: Record<'user' | 'group', ReadonlySet<string>> = {
  user: new Set([
    'appRoleAssignments',
    'authentication',
    'calendar',
    'changePassword',
    'checkMemberGroups',
    'checkMemberObjects',
    'createdObjects',
    'drive',
    'events',
    'getMemberGroups',
    'getMemberObjects',
    'joinedTeams',
    'mailFolders',
    'messages',
    'oauth2PermissionGrants',
    'ownedDevices',
    'ownedObjects',
    'photo',
    'registeredDevices',
    'reprocessLicenseAssignment',
    'restore',
    'revokeSignInSessions',
    'sendMail',
    'transitiveManagers',
    'transitiveReports',
  ]),
  group: new Set([
    'appRoleAssignments',
    'checkMemberGroups',
    'checkMemberObjects',
    'conversations',
    'drive',
    'getMemberGroups',
    'getMemberObjects',
    'memberOf',
    'membersWithLicenseErrors',
    'photo',
    'renew',
    'reprocessLicenseAssignment',
    'restore',
    'sites',
    'team',
    'threads',
    'transitiveMemberOf',
    'validateProperties',
  ]),
};

/** graph-facts §1 UPN rules: the only documented message for invalid values. */
export function invalidValues(): GraphError {
  return new GraphError(400, 'Request_BadRequest', 'One or more properties contains invalid values.');
}

export function badRequest(message: string, code = 'Request_BadRequest'): GraphError {
  return new GraphError(400, code, message);
}

/** graph-facts §9: "Specified HTTP method is not allowed for the request target." (405). */
export function methodNotAllowed(): GraphError {
  return new GraphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
}

/** graph-facts §4 `$select`/§9 NotImplemented. */
export function notImplemented(): GraphError {
  return new GraphError(501, 'NotImplemented', 'This operation target is not yet supported.');
}

export function conflict(
  property: 'userPrincipalName' | 'proxyAddresses' | 'onPremisesImmutableId' | 'onPremisesSecurityIdentifier',
  otherId?: string,
  holderType = 'User',
): GraphError {
  const message = `Another object with the same value for property ${property} already exists.`;
  const details: ErrorDetail[] =
    property === 'userPrincipalName'
      ? [{ target: 'userPrincipalName', code: 'ObjectConflict' }]
      : property === 'proxyAddresses'
        ? [
            { code: 'ObjectConflict', message, target: 'proxyAddresses' },
            // graph-facts §1 shows a second ConflictingObjects detail naming the holder.
            { code: 'ConflictingObjects', message, target: otherId ?? '' },
          ]
        : // graph-facts-2 §1: ObjectConflict on the property, ConflictingObjects naming User_<holder id>.
          [
            { code: 'ObjectConflict', message, target: property },
            { code: 'ConflictingObjects', message, target: `${holderType}_${otherId ?? ''}` },
          ];
  return new GraphError(400, 'Request_BadRequest', message, details);
}

/** Request body as an object, or 400. */
export function bodyObject(req: GraphRequest): Record<string, unknown> {
  const b = req.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b))
    throw badRequest('Empty Payload. JSON content expected.', 'BadRequest');
  return b as Record<string, unknown>;
}
