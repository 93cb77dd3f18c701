/**
 * The error catalogue: every failure mode adsync reports, by its stable code, with the exit code the CLI
 * returns and the hint shown when the thrower gives none. docs/errors.md is generated from it
 * (`npm run docs:errors`) and test/apply/errors-catalogue.test.ts checks both stay complete and in step.
 */

export interface ErrorEntry {
  /** What went wrong, in general terms (the message says the specifics). */
  summary: string;
  /** The process exit code. */
  exitCode: number;
  /** What to do about it, when the thrower has no more specific advice. */
  hint: string;
}

export const ERROR_CATALOGUE = {
  error: {
    summary: 'an unexpected failure, reported with its own message (doctor checks)',
    exitCode: 1,
    hint: 'run the command again with --debug for details',
  },
  apply_cancelled: {
    summary: 'apply cancelled; nothing was changed',
    exitCode: 1,
    hint: 'fix the cause shown above and run the same command again: a saved plan resumes where it stopped',
  },
  apply_interrupted: {
    summary: 'interrupted (…): … of … change(s) applied, … failed, … not started; the lock is released',
    exitCode: 130,
    hint: 'fix the cause shown above and run the same command again: a saved plan resumes where it stopped',
  },
  apply_locked: {
    summary: 'another apply holds the lock …: pid … on … since … (…)',
    exitCode: 1,
    hint: 'wait for the other apply to finish',
  },
  apply_no_target: {
    summary: 'the plan has … changes, but no … target to apply them',
    exitCode: 1,
    hint: 'fix the cause shown above and run the same command again: a saved plan resumes where it stopped',
  },
  apply_partial: {
    summary: '… change(s) failed; the others were applied',
    exitCode: 1,
    hint: 'fix the cause shown above and run the same command again: it picks up where this run stopped',
  },
  approval_needed: {
    summary: 'apply needs confirmation, and there is no terminal to ask',
    exitCode: 1,
    hint: 'review the plan above, then run with --auto-approve, or apply a saved plan: adsync apply -c SPEC PLAN.json',
  },
  dn_invalid: {
    summary: 'invalid DN "…": …',
    exitCode: 1,
    hint: 'write DNs as AD shows them, e.g. OU=Sales,DC=corp,DC=example (escape , + " \\\\ < > ; with a backslash)',
  },
  emulator_flag: {
    summary: "--fail-rate must be a number from 0 to 1, not '…",
    exitCode: 1,
    hint: 'e.g. --fail-rate 0.1 for 10%',
  },
  emulator_start: {
    summary: 'cannot start the emulator: …',
    exitCode: 1,
    hint: 'see `adsync emulator --help`',
  },
  entra_application_not_found: {
    summary: 'Entra: no application with appId … in tenant',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_application_unknown: {
    summary: "Entra: cannot register adsync's … extension: adsync's application was not found",
    exitCode: 1,
    hint: 'set target.entra.applicationId to the app registration adsync uses, and grant it Application.ReadWrite.OwnedBy',
  },
  entra_auth_failed: {
    summary: 'Entra: could not obtain a token: …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_authority_insecure: {
    summary: '….authorityHost must be an https:// URL (got …)',
    exitCode: 1,
    hint: 'MSAL refuses non-https authorities; serve the authority over TLS and trust its CA with target.entra.ca',
  },
  entra_ca_invalid: {
    summary: 'target.entra.ca is not a PEM certificate',
    exitCode: 1,
    hint: 'point it at a file holding -----BEGIN CERTIFICATE----- blocks',
  },
  entra_ca_unreadable: {
    summary: 'cannot read target.entra.ca …: …',
    exitCode: 1,
    hint: 'relative paths are relative to the spec file',
  },
  entra_ca_unsupported: {
    summary: 'trusting an extra CA in-process needs Node >= 22.19 (this is …)',
    exitCode: 1,
    hint: 'upgrade Node, or start adsync with NODE_EXTRA_CA_CERTS=<the PEM file>',
  },
  entra_certificate_invalid: {
    summary: '….credential.certificate must be a PEM holding both the certificate and its private key',
    exitCode: 1,
    hint: 'concatenate the certificate and the unencrypted private key into one PEM',
  },
  entra_credential_incomplete: {
    summary: '….credential (workload-identity) needs a client id and a federated token file',
    exitCode: 1,
    hint: 'run in a GitHub Actions job with `permissions: id-token: write` (the runner sets ACTIONS_ID_TOKEN_REQUEST_*); fork pull requests get no OIDC token',
  },
  entra_credential_unknown: {
    summary: '….credential: unknown kind …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_endpoint_insecure: {
    summary: 'target.entra.endpoint must be https:// (got …)',
    exitCode: 1,
    hint: 'the Graph SDK sends tokens only over https; serve the endpoint over TLS and trust its CA with target.entra.ca',
  },
  entra_endpoint_invalid: {
    summary: 'target.entra.endpoint is not a URL: …',
    exitCode: 1,
    hint: 'e.g. https://graph.microsoft.com',
  },
  entra_extension_failed: {
    summary: "Entra: cannot register adsync's extension …: …",
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_failed: {
    summary: 'Entra: … failed: …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_forbidden: {
    summary: 'Entra: access denied while …: …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_delta_no_link: {
    summary: 'Entra: … answered $deltatoken=latest without an @odata.deltaLink',
    exitCode: 1,
    hint: 'check target.entra.endpoint points at Microsoft Graph; `adsync plan --full` reads without delta links next time too',
  },
  entra_no_organization: {
    summary: 'Entra: /organization returned no tenant',
    exitCode: 1,
    hint: 'check target.entra.endpoint points at Microsoft Graph',
  },
  entra_request_failed: {
    summary: 'Entra: … failed: …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the endpoint, the credential and the permissions',
  },
  entra_tls_untrusted: {
    summary: 'Entra: cannot get a token from …: its TLS certificate is not trusted (…)',
    exitCode: 1,
    hint: 'set target.entra.ca to the PEM of the CA that signed it (the emulator prints its certificate with --cert-out)',
  },
  entra_unauthorized: {
    summary: 'Entra: Graph rejected the token while …: …',
    exitCode: 1,
    hint: 'the token is for another tenant or audience, or has expired; check target.entra.tenantId and endpoint',
  },
  entra_unreachable: {
    summary: 'Entra: cannot reach the token authority … (…)',
    exitCode: 1,
    hint: 'check target.entra.authorityHost and the network path (proxy, firewall) to it',
  },
  env_missing: {
    summary: '…: environment variable … is not set',
    exitCode: 1,
    hint: 'export the variable before running adsync',
  },
  expression_map: {
    summary: 'the expression gives a map; a flow must give a string, number, bool, list or null',
    exitCode: 1,
    hint: 'pick one value out of the map (m.key or m["key"]), or build a string from it',
  },
  expression_too_long: {
    summary: 'the expression is … characters long; at most … are allowed',
    exitCode: 1,
    hint: 'split the expression into shorter flows, or move the logic into a source attribute',
  },
  github_oidc_unavailable: {
    summary: 'GitHub Actions: cannot request an OIDC token from the runner: …',
    exitCode: 1,
    hint: 'the job needs `permissions: id-token: write`; pull requests from forks get no OIDC token',
  },
  internal: {
    summary: 'an internal invariant broke: an adsync bug',
    exitCode: 1,
    hint: 'this is an adsync bug: please report it with the command and --debug output',
  },
  journal_read: {
    summary: 'cannot read the apply journal …: …',
    exitCode: 1,
    hint: 'check the state directory is writable and has free space, then run the same command again',
  },
  journal_write: {
    summary: 'cannot write the apply journal …: …',
    exitCode: 1,
    hint: 'free space or fix the permissions of the state directory, then run the same command again',
  },
  ldap_binary_decoding: {
    summary: '…: binary attribute … came back as text',
    exitCode: 1,
    hint: 'this is an adsync bug (the server spelled the attribute name unexpectedly); please report it',
  },
  ldap_ca_unreadable: {
    summary: 'sources[…].ldap.ca: cannot read …: …',
    exitCode: 1,
    hint: 'point ca at the PEM file of the CA that issued the domain controller certificate (relative paths are relative to the spec)',
  },
  ldap_cleartext: {
    summary: '…: … without startTls would send the bind password in clear text',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_connection_lost: {
    summary: 'connection to … was lost: …',
    exitCode: 1,
    hint: 'check the DC and the network path; a TLS-terminating proxy may be dropping the connection',
  },
  ldap_domain_not_hosted: {
    summary: 'domain … (…) is not hosted by ……; it hosts …',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_error: {
    summary: 'LDAP error from ……',
    exitCode: 1,
    hint: 'run `adsync doctor` to check the connection, the account and its permissions',
  },
  ldap_filter_invalid: {
    summary: '…: … is not one valid LDAP filter: …',
    exitCode: 1,
    hint: 'write one RFC 4515 filter; escape * ( ) \\\\ NUL in values as \\\\2a \\\\28 \\\\29 \\\\5c \\\\00',
  },
  ldap_guid_invalid: {
    summary: '…: … holds … bytes; a GUID is 16, and adsync will not anchor the object on it',
    exitCode: 1,
    hint: "correct the attribute in AD: it must be the object's 16-byte anchor, or clear it if it never was the anchor",
  },
  ldap_insufficient_access: {
    summary: '… may not read … on … (LDAP 50 insufficientAccessRights)',
    exitCode: 1,
    hint: 'grant the sync account read access (Read all properties, List contents) on the scoped OUs; `adsync doctor` shows what is missing',
  },
  ldap_invalid_credentials: {
    summary: 'LDAP bind to … as … failed: invalid credentials (LDAP 49, …)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  state_format: {
    summary:
      'format …, not adsync-sync-state/1 (a stored incremental state this version cannot read; never shown: it reads in full)',
    exitCode: 1,
    hint: 'nothing to do: the next run reads in full and writes the state over',
  },
  ldap_no_watermark: {
    summary:
      "…: the rootDSE names no highestCommittedUSN / dsServiceName (the AD source's incremental read needs them)",
    exitCode: 1,
    hint: 'run `adsync plan --full`, or check that the source is an AD domain controller (`adsync doctor -c adsync.yaml`)',
  },
  ldap_no_base: {
    summary: '… names no default naming context',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_no_such_object: {
    summary: 'search base … does not exist on … (LDAP 32 noSuchObject)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_timeout: {
    summary: 'LDAP operation on … timed out…',
    exitCode: 1,
    hint: 'the DC is slow or overloaded; retry, or narrow the scope',
  },
  ldap_tls_expired: {
    summary: 'TLS to …: the certificate is outside its validity period (…)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_tls_name_mismatch: {
    summary: 'TLS to …: the certificate is not valid for the name … (…)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_tls_required: {
    summary: '… refuses a simple bind without TLS (LDAP …)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_tls_untrusted: {
    summary: 'TLS to …: the certificate is not trusted (…)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_unreachable: {
    summary: 'cannot reach … (…)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_url_credentials: {
    summary: '….url holds credentials in the URL (user:password@host; not shown)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldap_url_invalid: {
    summary: '….url: … is not a URL',
    exitCode: 1,
    hint: 'use ldaps://dc1.corp.example (or ldap://… with startTls: true)',
  },
  ldap_write_failed: {
    summary: 'LDAP … …… failed on …:…: … (LDAP … …)',
    exitCode: 1,
    hint: 'run `adsync doctor -c adsync.yaml`: it checks the DC, the account and TLS',
  },
  ldif_base_invalid: {
    summary: 'source …: search base "…" is not a valid DN',
    exitCode: 1,
    hint: 'write OUs and domains as DNs, e.g. OU=Staff,DC=corp,DC=example',
  },
  ldif_duplicate_dn: {
    summary: '…:…: a second record for "…" (the first is at line …)',
    exitCode: 1,
    hint: 'an export has one record per object: remove or merge the duplicate (was the file concatenated from two exports?)',
  },
  ldif_not_found: {
    summary: 'LDIF file not found: …',
    exitCode: 1,
    hint: 'check the path and its permissions',
  },
  ldif_syntax: {
    summary: 'an LDIF file does not parse (FILE:LINE: what)',
    exitCode: 1,
    hint: 'escape "," "+" ";" "\\\\" "=" in DN values with a backslash, as ldifde does',
  },
  ldif_unreadable: {
    summary: 'cannot read LDIF file …: …',
    exitCode: 1,
    hint: 'check the path and its permissions',
  },
  license_capacity: {
    summary:
      'not enough licences, nothing was written: licenses[…] (…): SKU … has … free seats (prepaid …, consumed …) but the plan assigns …: … short',
    exitCode: 1,
    hint: 'buy the missing seats, narrow the rule (when/memberOf), free seats, or set overCapacity: report on the rule to assign what is free and report the rest',
  },
  license_plan_unknown: {
    summary: 'licenses[…].disabledPlans: SKU … has no service plan … (its plans: …)',
    exitCode: 1,
    hint: 'name service plans by servicePlanName, as GET /subscribedSkus lists them',
  },
  license_sku_unknown: {
    summary: 'licenses[…].sku: the tenant has no subscribed SKU … (subscribedSkus: …)',
    exitCode: 1,
    hint: 'name the SKU by its skuPartNumber, as GET /subscribedSkus lists it',
  },
  plan_invalid: {
    summary: '… is not a saved adsync plan: it nests more than … levels deep (at byte …)',
    exitCode: 1,
    hint: 'make one with `adsync plan --out PLAN.json`',
  },
  plan_out_exists: {
    summary: 'refusing to write the plan to …: …',
    exitCode: 1,
    hint: 'choose another --out path (adsync only replaces an earlier saved plan)',
  },
  plan_stale: {
    summary: 'the saved plan … was made from a different version of the spec (digest …, now …)',
    exitCode: 1,
    hint: 'run `adsync plan --out` again and review the new plan',
  },
  plan_unreadable: {
    summary: 'cannot read the saved plan …: …',
    exitCode: 1,
    hint: 'make one with `adsync plan --out PLAN.json`',
  },
  plan_write: {
    summary: 'cannot write the plan to …: …',
    exitCode: 1,
    hint: 'check the directory exists, is writable and has free space',
  },
  plan_wrong_target: {
    summary: 'this plan is for …, not Entra',
    exitCode: 1,
    hint: 'apply it with the matching target',
  },
  plan_wrong_tenant: {
    summary: "the saved plan … is for tenant …, but the spec's target is tenant …",
    exitCode: 1,
    hint: 'plan and apply against the same tenant',
  },
  safety_threshold: {
    summary: 'apply stopped before any write: …',
    exitCode: 1,
    hint: 'check the plan (an OU rename or a scope typo looks like this); if it is intended, run again with --force',
  },
  scope_filter_unsupported: {
    summary: 'a scope filter uses an LDAP matching rule or filter type adsync cannot evaluate',
    exitCode: 1,
    hint: 'use equality, presence, substring, >=, <=, ~= and the AD bitwise rules 1.2.840.113556.1.4.803 (BIT_AND) and 1.2.840.113556.1.4.804 (BIT_OR)',
  },
  secret_missing: {
    summary: '…: environment variable … is not set',
    exitCode: 1,
    hint: 'provide the secret the spec names (environment variable or file)',
  },
  secret_unreadable: {
    summary: '…: cannot read …: …',
    exitCode: 1,
    hint: 'check the path (relative paths are relative to the spec file, e.g. ./secrets/ldap-password) and its permissions',
  },
  source_empty: {
    summary: 'source …: …; planning now would delete every object adsync manages from it',
    exitCode: 1,
    hint: 'check the export, the search base (scope.ous, ldap.baseDn) and the scope filter; if the source is meant to be empty, set safety.allowEmptySource: true',
  },
  source_kind: {
    summary: 'sources.…: neither ldif nor ldap is set',
    exitCode: 1,
    hint: 'check the sources section of the spec',
  },
  source_not_ldap: {
    summary: 'source … has no ldap settings',
    exitCode: 1,
    hint: 'the AD source needs `ldap:` (url, bindDn, password)',
  },
  spec_invalid: {
    summary: 'the spec is invalid (every problem listed with FILE:LINE:COL)',
    exitCode: 1,
    hint: 'fix the problems above; \\',
  },
  spec_not_found: {
    summary: 'spec not found: …',
    exitCode: 1,
    hint: '-c/--config defaults to ./adsync.yaml',
  },
  spec_unreadable: {
    summary: 'cannot read spec …: …',
    exitCode: 1,
    hint: '`adsync validate -c adsync.yaml` checks the spec without reading any directory',
  },
  state_conflict: {
    summary: 'state … in … changed since it was read (…); nothing was written',
    exitCode: 1,
    hint: 'another run wrote the state at the same time; run again to start from its result',
  },
  state_credential_invalid: {
    summary: 'state.azureBlob.connectionString: … does not hold a valid storage connection string',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  state_credential_missing: {
    summary: 'state.azureBlob.connectionString: environment variable … is not set',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  state_lock_lost: {
    summary: 'the state lock in … was lost while held (…)',
    exitCode: 1,
    hint: 'someone ran `adsync unlock` or the storage was unreachable for a minute; stop, and run again',
  },
  state_locked: {
    summary: 'the state lock in … is held by …',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  state_name_invalid: {
    summary: 'invalid state name …',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  state_unavailable: {
    summary: 'cannot … in …: …',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  state_unlock_refused: {
    summary: 'adsync unlock refused to break the state lock',
    exitCode: 1,
    hint: 'check the state section of the spec and the storage it names; run again',
  },
  target_missing: {
    summary: 'the spec has no target',
    exitCode: 1,
    hint: 'set target.entra (or target.emulator for a local tenant)',
  },
  usage: {
    summary: 'a command-line flag is missing, malformed or conflicts with another',
    exitCode: 1,
    hint: 'e.g. adsync plan --markdown comment.md --split (writes comment.1.md, comment.2.md, …)',
  },
  writeback_conflict: {
    summary: 'LDAP add … failed on …:…: … (LDAP 68 entryAlreadyExists: …)',
    exitCode: 1,
    hint: 'rename or remove the object in the way (or change the flow that names the group); adsync never takes over an object it did not write',
  },
  writeback_no_dn: {
    summary: 'the group has no DN',
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
  writeback_no_source: {
    summary: 'the change names no source forest',
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
  writeback_ou_missing: {
    summary: '…: the writeback OU … does not exist in source …',
    exitCode: 1,
    hint: 'create the OU (adsync creates groups in it, never the OU itself), or fix the DN',
  },
  writeback_protected: {
    summary:
      "refused: … is a protected AD attribute writeback never writes (…); the plan was not made by this spec's writeback rules",
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
  writeback_rule: {
    summary: 'writeback[…] is not a group rule',
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
  writeback_source: {
    summary: 'writeback[…].group.source: no source named …',
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
  writeback_unsupported: {
    summary: '… is not an AD writeback action',
    exitCode: 1,
    hint: 'check the writeback rules of the spec; `adsync plan` shows what writeback would write',
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The catalogue entry of `code`, if it has one. */
export function errorEntry(code: string): ErrorEntry | undefined {
  return Object.hasOwn(ERROR_CATALOGUE, code) ? ERROR_CATALOGUE[code as ErrorCode] : undefined;
}

/** docs/errors.md: the catalogue as a table, by code. */
export function errorCatalogueMarkdown(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = Object.entries(ERROR_CATALOGUE)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, e]: [string, ErrorEntry]) => `| \`${code}\` | ${e.exitCode} | ${cell(e.summary)} | ${cell(e.hint)} |`);
  return [
    '# Errors',
    '',
    '<!-- Generated from src/errors/catalogue.ts by `npm run docs:errors`; test/apply/errors-catalogue.test.ts checks it. -->',
    '',
    'Every error adsync reports has a stable code (shown with `--json` and `--log-format json`), an exit code and a',
    'hint. The message says what failed and where; the hint below is the default when there is no more specific one.',
    '',
    '| Code | Exit | What | Default hint |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
