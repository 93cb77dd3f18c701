/**
 * The validated, normalized spec. `schemas/adsync.schema.json` is the published truth for the YAML shape;
 * these types are what the loader hands to the rest of adsync after validation and defaults.
 */
import type { SpecProblem } from '../errors.js';
import type { ObjectKind } from '../model/target.js';
import type { FlowWhen } from '../engine/flow-timing.js';

/** A setting that may be written literally or taken from an environment variable. */
export type ValueRef = string | { env: string };

/** A secret: never a literal in the spec, only a reference. */
export type SecretRef = { env: string } | { file: string };

export interface LdapSourceSpec {
  url: ValueRef;
  bindDn: ValueRef;
  password: SecretRef;
  /** PEM file of the CA that signed the DC's certificate (relative paths are relative to the spec). */
  ca?: ValueRef;
  /** Use StartTLS on an ldap:// URL. */
  startTls?: boolean;
  /** Turns certificate verification off. Loudly logged; never the default. */
  tlsInsecureSkipVerify?: boolean;
  /** Search base when the scope names no domains or OUs (default: the forest's default naming context). */
  baseDn?: ValueRef;
  /** Paged search page size, 1..1000 (AD's MaxPageSize). */
  pageSize: number;
}

export interface LdifSourceSpec {
  /** Path of an LDIF export (ldifde / ldapsearch), relative to the spec. */
  path: string;
}

export interface ScopeSpec {
  /** DNS names of the domains to read (e.g. corp.example). Empty = all. */
  domains: string[];
  ous: { include: string[]; exclude: string[] };
  /** Pilot: only direct members of these groups (DNs). Empty = no group filter. */
  groups: string[];
  /** An RFC 4515 LDAP filter every object must match. */
  filter?: string;
}

export type AnchorAttribute = 'ms-ds-consistencyguid' | 'objectguid';

export interface SourceSpec {
  name: string;
  ldap?: LdapSourceSpec;
  ldif?: LdifSourceSpec;
  /**
   * Which attribute the source anchor comes from. `ms-ds-consistencyguid` (default, as Entra Connect):
   * mS-DS-ConsistencyGuid when present, else objectGUID. `objectguid`: always objectGUID.
   */
  anchor: AnchorAttribute;
  scope: ScopeSpec;
}

export type CredentialSpec =
  | { kind: 'client-secret'; clientId: ValueRef; secret: SecretRef }
  | { kind: 'client-certificate'; clientId: ValueRef; certificate: SecretRef }
  | { kind: 'workload-identity'; clientId?: ValueRef; tokenFile?: ValueRef }
  /** GitHub Actions: a fresh OIDC token from the runner whenever the last is near expiry (long runs). */
  | { kind: 'github-actions-oidc'; clientId?: ValueRef; audience?: ValueRef }
  /** Azure Pipelines: AzurePipelinesCredential (a fresh OIDC token from the pipeline for each access token). */
  | { kind: 'azure-pipelines'; clientId?: ValueRef; serviceConnectionId?: ValueRef }
  | { kind: 'managed-identity'; clientId?: ValueRef }
  | { kind: 'environment' }
  | { kind: 'default' };

export interface EntraTargetSpec {
  tenantId: ValueRef;
  /** Graph base URL, default https://graph.microsoft.com. */
  endpoint: ValueRef;
  /** Token authority, default https://login.microsoftonline.com (or AZURE_AUTHORITY_HOST). */
  authorityHost?: ValueRef;
  credential: CredentialSpec;
  /** The app registration that owns adsync's directory extension (default: the credential's client id). */
  applicationId?: ValueRef;
  /** Extra CA (PEM) to trust for the Graph endpoint and authority (e.g. the emulator's certificate). */
  ca?: ValueRef;
}

/** The embedded Graph emulator: started in-process, so a quickstart needs no server and no cloud. */
export interface EmulatorTargetSpec {
  /** State file (JSON), relative to the spec. Created on first use. */
  state: string;
  /** Initial domain of the emulated tenant, e.g. contoso.onmicrosoft.com. */
  tenant: string;
  /** Verified custom domains of the emulated tenant. */
  domains: string[];
  /** Tenant fixtures (relative to the spec) loaded into a new state (schemas/emulator-fixture.schema.json). */
  fixtures?: string[];
}

export interface TargetSpec {
  entra?: EntraTargetSpec;
  emulator?: EmulatorTargetSpec;
}

/**
 * A flow: target attribute ← CEL expression over the source object, or `{ value, when }` to say when it is
 * recomputed (engine/flow-timing.ts); null turns a default flow off.
 */
export type FlowSpec = Record<string, string | { value: string; when?: FlowWhen } | null>;

export interface ObjectRuleSpec {
  /** Synchronize this kind at all (default true). */
  enabled: boolean;
  /** Custom flows; they override the defaults attribute by attribute. */
  flows: FlowSpec;
  /** Groups: a new group is provisioned only with fewer direct members than this (default 250,000, as Entra Connect). */
  memberLimit?: number;
}

/** Soft match: adopt an unowned cloud user by UPN and/or primary SMTP address (opt-in; `off` by default). */
export type SoftMatch = 'off' | 'upn' | 'mail' | 'both';

export interface MatchingSpec {
  softMatch: SoftMatch;
  /**
   * Cloud users holding a directory role that hard match (onPremisesImmutableId = anchor) may adopt anyway,
   * each named by userPrincipalName, object id or anchor. Absent: none (a role holder is never adopted).
   */
  allowAdmins?: string[];
  /**
   * ⚑ CEL over the source object (the variables of flows): which objects whose cloud twin a sync client
   * (Entra Connect, Cloud Sync) masters are taken over. Absent: `false`, none (src/engine/takeover.ts).
   */
  takeover?: string;
  /** ⚑ CEL over the source object: which taken-over objects are handed back to the sync client. Absent: `false`. */
  release?: string;
}

export interface SafetySpec {
  /** Stop apply before any write when a plan deletes more than this many objects (default 500, as Entra Connect). */
  maxDeletes: number;
  /** ... or more than this percentage of the managed objects (default 50; absent only in hand-built specs). */
  maxDeletePercent?: number;
  /** ... or removes more than this many memberships (default 500). */
  maxMemberRemovals?: number;
  /** ... or more than this percentage of the memberships of the groups adsync manages (default 50). */
  maxMemberRemovalPercent?: number;
  /** A source that returns no object in scope stops the plan unless this is true (default false). */
  allowEmptySource?: boolean;
  /** ... or removes more than this many licence assignments (absent: 100, DEFAULT_MAX_LICENSE_REMOVALS). */
  maxLicenseRemovals?: number;
  /** ... or takes over more than this many sync-client-mastered objects (default 10; absent in hand-built specs). */
  maxTakeovers?: number;
  /** ... or updates more than this many objects (default none). */
  maxUpdates?: number;
  /** `delete` (default): deletes happen in one apply. `disable-first`: disable and mark, delete after the grace period. */
  deleteMode: 'delete' | 'disable-first';
  /** With disable-first: days between the disable and the delete (default 7). */
  deleteGraceDays: number;
}

/** `state:` (DESIGN §5): where incremental state, the journal and the lock live (src/state/). */
export type StateSpec =
  | { local: { dir?: string } }
  | {
      azureBlob: {
        accountUrl: string;
        container: string;
        prefix?: string;
        credential?: CredentialSpec;
        connectionString?: { env: string };
      };
    };

export interface Spec {
  version: 1;
  /** Absolute path of the spec file, and its directory (relative paths resolve against it). */
  file: string;
  dir: string;
  /** sha256 of the spec file's bytes, hex. */
  digest: string;
  /** Parts of a valid spec that can have no effect (e.g. a scope entry that can match nothing), positioned. */
  warnings?: SpecProblem[];
  sources: SourceSpec[];
  target: TargetSpec;
  /** App and attribute filtering (names from app-attributes.csv). Empty = every default flow. */
  applications: string[];
  /** How desired objects join unowned cloud objects (hard match by anchor always applies). */
  matching: MatchingSpec;
  objects: Record<ObjectKind, ObjectRuleSpec>;
  safety: SafetySpec;
  /** Entra ID → AD rules, in spec order (their index names them in plans: `writeback[1]`). */
  writeback: WritebackRuleSpec[];
  /** Absent: local state in `.adsync/` next to the spec (or $ADSYNC_STATE_DIR). */
  state?: StateSpec;
  /** Licence rules, in spec order (`licenses[0]` names a rule in plans); absent or empty: adsync leaves licences alone. */
  licenses?: LicenseRuleSpec[];
}

/** `licenses:` (DESIGN §5): one SKU assigned directly to the users a rule selects. */
export interface LicenseRuleSpec {
  /** Position in `licenses:` (provenance: `licenses[0]`). */
  index: number;
  /** The SKU's skuPartNumber (SPE_E3). */
  sku: string;
  /** Service plans left off, by servicePlanName. */
  disabledPlans: string[];
  /** CEL over the source object; true selects the user. */
  when?: string;
  /** An AD group DN whose direct members are selected. */
  memberOf?: string;
  onDisable: 'keep' | 'remove';
  onLeave: 'keep' | 'remove';
  owned: boolean;
  overCapacity: 'fail' | 'report';
}

/** AD group types group writeback can create (groupType values in src/engine/writeback-groups.ts). */
export type WritebackGroupType =
  'universal-security' | 'global-security' | 'domain-local-security' | 'universal-distribution';

/** ms-DS-ConsistencyGuid ← objectGUID where empty, on the in-scope objects of one source. */
export interface AnchorWritebackSpec {
  rule: 'anchor';
  /** Position in `writeback:` (provenance: `writeback[0].anchor`). */
  index: number;
  source: string;
  kinds: ('user' | 'group')[];
}

/** Cloud groups selected by a CEL filter, created and kept in an AD OU. */
export interface GroupWritebackSpec {
  rule: 'group';
  index: number;
  source: string;
  ou: ValueRef;
  filter: string;
  groupType: WritebackGroupType;
  /** AD attribute → CEL over the cloud group; null turns a default off. */
  flows: Record<string, string | null>;
  /** Protected attributes (src/spec/writeback-denylist.ts) the flows may write anyway; every plan warns. */
  allowProtected?: string[];
}

/** Entra properties of managed objects → AD attributes. */
export interface AttributeWritebackSpec {
  rule: 'attributes';
  index: number;
  source: string;
  kind: 'user' | 'group';
  /** AD attribute → CEL over the Entra object. */
  flows: Record<string, string>;
  /** Protected attributes (src/spec/writeback-denylist.ts) the flows may write anyway; every plan warns. */
  allowProtected?: string[];
}

export type WritebackRuleSpec = AnchorWritebackSpec | GroupWritebackSpec | AttributeWritebackSpec;
