/**
 * AD attributes writeback never writes. Writeback copies values that anyone who can edit a cloud property
 * controls into the directory everything else trusts: an attribute here would hand that person a way to sign
 * in as someone, to act on their behalf, to join a privileged group, or to run code at logon. Data, one entry
 * per attribute, with the reason and the source of the fact; `validate` refuses a flow into any of them.
 *
 * `overridable` entries may be written by a rule that names them in `allowProtected` (the rare legitimate
 * case, e.g. a cloud-mastered userPrincipalName); validate still lists them and every plan warns. The rest
 * (secrets, identity, adsync's own markers, security descriptors, group membership) are never writable.
 *
 * Sources:
 *   [drsr]   MS-DRSR 4.1.10.3.11 IsSecretAttribute (the attributes a DC treats as secrets)
 *            https://learn.microsoft.com/openspecs/windows_protocols/ms-drsr/294168d9-81bf-461b-91d7-95bd8a985737
 *   [conf]   attributes AD marks confidential (searchFlags fCONFIDENTIAL, 0x80; MS-ADTS 3.1.1.4.3): BitLocker,
 *            TPM, credential roaming, LAPS https://learn.microsoft.com/openspecs/windows_protocols/ms-ada3/f0b64fa8-6013-4e3c-aad3-ec881c11836d
 *   [key]    key trust / certificate mapping: msDS-KeyCredentialLink (Windows Hello for Business key trust, the
 *            "shadow credentials" attack), altSecurityIdentities (explicit certificate mapping, KB5014754)
 *   [deleg]  Kerberos delegation: msDS-AllowedToDelegateTo (constrained), msDS-AllowedToActOnBehalfOfOtherIdentity
 *            (resource-based constrained delegation), servicePrincipalName (who gets tickets, Kerberoasting)
 *   [priv]   privilege: primaryGroupID (513 → 512 is Domain Admins), sIDHistory, adminCount (AdminSDHolder's
 *            protected-account mark, MS-ADTS 3.1.1.6.1.2 / "Appendix C: Protected Accounts and Groups in AD")
 *   [logon]  what runs or is mounted at logon, and when an account may log on (ADUC Profile/Account tabs)
 *   [ident]  identity and naming of existing accounts (what people and services sign in with or bind to)
 *   [adsync] adsync's own anchors and markers (writeback and the inbound filters depend on them)
 *   [sd]     security descriptors (who may do what to the object)
 */

export type DenyCategory =
  'secret' | 'key' | 'delegation' | 'privilege' | 'logon' | 'identity' | 'adsync' | 'security-descriptor' | 'computed';

export interface DenyEntry {
  /** lDAPDisplayName as AD spells it. */
  attribute: string;
  category: DenyCategory;
  /** Why writing it from the cloud is dangerous (shown by validate). */
  reason: string;
  /** Where the fact comes from (see the header). */
  source: string;
  /** A rule may write it when it names it in `allowProtected`. */
  overridable: boolean;
  /**
   * Only existing accounts are protected: a group-writeback rule may set it on the groups adsync itself
   * creates (sAMAccountName is how a written-back group is named).
   */
  existingOnly?: boolean;
}

const e = (
  attribute: string,
  category: DenyCategory,
  source: string,
  overridable: boolean,
  reason: string,
  existingOnly = false,
): DenyEntry =>
  existingOnly
    ? { attribute, category, reason, source, overridable, existingOnly }
    : { attribute, category, reason, source, overridable };

export const WRITEBACK_DENY_LIST: readonly DenyEntry[] = [
  // Secrets: a value written here is a password or a key.
  e('unicodePwd', 'secret', '[drsr]', false, 'the account password'),
  e('userPassword', 'secret', '[drsr]', false, 'sets the account password on DCs that map it to unicodePwd'),
  e('dBCSPwd', 'secret', '[drsr]', false, 'LM password hash'),
  e('lmPwdHistory', 'secret', '[drsr]', false, 'LM password history'),
  e('ntPwdHistory', 'secret', '[drsr]', false, 'NT password history'),
  e('supplementalCredentials', 'secret', '[drsr]', false, 'Kerberos keys and other credentials'),
  e('currentValue', 'secret', '[drsr]', false, 'secret object value'),
  e('priorValue', 'secret', '[drsr]', false, 'secret object value'),
  e('initialAuthIncoming', 'secret', '[drsr]', false, 'trust secret'),
  e('initialAuthOutgoing', 'secret', '[drsr]', false, 'trust secret'),
  e('trustAuthIncoming', 'secret', '[drsr]', false, 'trust secret'),
  e('trustAuthOutgoing', 'secret', '[drsr]', false, 'trust secret'),
  e('unixUserPassword', 'secret', '[conf]', false, 'a password (confidential attribute)'),
  e('msDS-ManagedPassword', 'secret', '[conf]', false, 'group managed service account password'),
  e('ms-Mcs-AdmPwd', 'secret', '[conf]', false, 'legacy LAPS local administrator password'),
  e(
    'ms-Mcs-AdmPwdExpirationTime',
    'secret',
    '[conf]',
    false,
    'legacy LAPS password expiry (forces or postpones a reset)',
  ),
  e('msLAPS-Password', 'secret', '[conf]', false, 'Windows LAPS local administrator password'),
  e('msLAPS-EncryptedPassword', 'secret', '[conf]', false, 'Windows LAPS encrypted password'),
  e('msLAPS-EncryptedPasswordHistory', 'secret', '[conf]', false, 'Windows LAPS password history'),
  e('msLAPS-EncryptedDSRMPassword', 'secret', '[conf]', false, 'Windows LAPS DSRM password'),
  e('msLAPS-EncryptedDSRMPasswordHistory', 'secret', '[conf]', false, 'Windows LAPS DSRM password history'),
  e('msLAPS-PasswordExpirationTime', 'secret', '[conf]', false, 'Windows LAPS password expiry'),
  e('msFVE-RecoveryPassword', 'secret', '[conf]', false, 'BitLocker recovery password'),
  e('msFVE-KeyPackage', 'secret', '[conf]', false, 'BitLocker key package'),
  e('msTPM-OwnerInformation', 'secret', '[conf]', false, 'TPM owner password'),
  e('msTPM-InformationForComputer', 'secret', '[conf]', false, 'TPM information of a computer'),
  e('msPKIAccountCredentials', 'secret', '[conf]', false, "credential roaming: the user's private keys"),
  e('msPKIDPAPIMasterKeys', 'secret', '[conf]', false, 'credential roaming: DPAPI master keys'),
  e('msPKIRoamingTimeStamp', 'secret', '[conf]', false, 'credential roaming state'),
  e('pwdLastSet', 'secret', '[logon]', false, 'password age: writing 0 forces a reset, -1 un-expires a password'),
  // Keys and certificates: a value written here is a way to sign in as the account.
  e(
    'msDS-KeyCredentialLink',
    'key',
    '[key]',
    false,
    'a public key that signs in as the account (Windows Hello key trust; "shadow credentials")',
  ),
  e(
    'altSecurityIdentities',
    'key',
    '[key]',
    false,
    'maps a certificate or Kerberos principal to the account: whoever holds it signs in as the account',
  ),
  e('userCertificate', 'key', '[key]', true, 'certificates of the account (implicit certificate mapping for sign-in)'),
  e(
    'msDS-AllowedToActOnBehalfOfOtherIdentity',
    'delegation',
    '[deleg]',
    false,
    'resource-based constrained delegation: who may impersonate any user to this account',
  ),
  e(
    'msDS-AllowedToDelegateTo',
    'delegation',
    '[deleg]',
    false,
    'constrained delegation: services this account may impersonate users to',
  ),
  e(
    'servicePrincipalName',
    'delegation',
    '[deleg]',
    false,
    'Kerberos service names: decides who receives tickets for a service (and enables Kerberoasting)',
  ),
  e('msDS-AdditionalDnsHostName', 'delegation', '[deleg]', false, 'extra host names (and SPNs) of a computer'),
  e('msDS-AdditionalSamAccountName', 'delegation', '[deleg]', false, 'extra account names of a computer'),
  e('dNSHostName', 'delegation', '[deleg]', false, 'host name of a computer (its SPNs follow it)'),
  e(
    'msDS-SupportedEncryptionTypes',
    'delegation',
    '[deleg]',
    false,
    'Kerberos encryption types (downgrade to RC4/DES)',
  ),
  // Privilege: group membership and protection.
  e(
    'member',
    'privilege',
    '[priv]',
    false,
    'group membership (group writeback manages members of its own groups, from the cloud members)',
  ),
  e('memberOf', 'privilege', '[priv]', false, 'group membership (computed by AD from member)'),
  e('primaryGroupID', 'privilege', '[priv]', false, 'the primary group: 512 makes the account a Domain Admin'),
  e('sIDHistory', 'privilege', '[priv]', false, "extra SIDs in the account's token (any group's rights)"),
  e('adminCount', 'privilege', '[priv]', false, "AdminSDHolder's mark of protected accounts and groups"),
  e(
    'userAccountControl',
    'privilege',
    '[priv]',
    false,
    'account control: enables accounts, turns off password requirements, trusts for delegation',
  ),
  e('msDS-User-Account-Control-Computed', 'computed', '[priv]', false, 'computed by AD'),
  e('isCriticalSystemObject', 'privilege', '[priv]', false, 'marks built-in objects'),
  e(
    'groupType',
    'privilege',
    '[priv]',
    false,
    'turns a distribution group into a security group (or changes its scope)',
  ),
  e(
    'msDS-GroupMSAMembership',
    'security-descriptor',
    '[sd]',
    false,
    "who may read a managed service account's password",
  ),
  e(
    'msExchMasterAccountSid',
    'privilege',
    '[priv]',
    false,
    'Exchange linked mailbox owner: grants that account full access to the mailbox',
  ),
  // Logon: what runs, what is mounted, when an account may log on.
  e('scriptPath', 'logon', '[logon]', true, 'logon script: runs as the user at every logon'),
  e('profilePath', 'logon', '[logon]', true, "roaming profile path: the user's profile loads from it"),
  e('homeDirectory', 'logon', '[logon]', true, 'home folder: mounted at logon (a UNC path to any server)'),
  e('homeDrive', 'logon', '[logon]', true, 'home folder drive letter'),
  e('logonHours', 'logon', '[logon]', false, 'when the account may log on'),
  e('userWorkstations', 'logon', '[logon]', false, 'computers the account may log on to'),
  e('accountExpires', 'logon', '[logon]', false, 'when the account stops working (or never does)'),
  e('lockoutTime', 'logon', '[logon]', false, 'writing 0 unlocks a locked-out account'),
  // Identity of existing accounts: what people and services sign in with or bind to.
  e(
    'sAMAccountName',
    'identity',
    '[ident]',
    true,
    'the pre-Windows 2000 logon name of an existing account (sign-in, ACLs by name, scripts)',
    true,
  ),
  e(
    'userPrincipalName',
    'identity',
    '[ident]',
    true,
    "the sign-in name of an existing account (renaming it can take over another person's sign-in name)",
  ),
  e('objectGUID', 'identity', '[ident]', false, "the object's identity (AD sets it)"),
  e('objectSid', 'identity', '[ident]', false, 'the security identifier (AD sets it)'),
  e('distinguishedName', 'identity', '[ident]', false, "the object's name in the tree (a move, not an attribute)"),
  e('cn', 'identity', '[ident]', false, 'the relative name (a rename, not an attribute)'),
  e('name', 'identity', '[ident]', false, 'the relative name (a rename, not an attribute)'),
  e('objectClass', 'identity', '[ident]', false, 'what the object is'),
  e('objectCategory', 'identity', '[ident]', false, 'what the object is'),
  // adsync's own anchors and markers.
  e('mS-DS-ConsistencyGuid', 'adsync', '[adsync]', false, 'the source anchor (anchor writeback fills it where empty)'),
  e(
    'adminDescription',
    'adsync',
    '[adsync]',
    false,
    "Entra Connect's and adsync's sync markers (Group_/User_ keep objects out of the inbound sync)",
  ),
  e('adminDisplayName', 'adsync', '[adsync]', false, "adsync's ownership marker on written-back groups"),
  // Security descriptors and policy links.
  e('nTSecurityDescriptor', 'security-descriptor', '[sd]', false, "the object's permissions and owner"),
  e('gPLink', 'security-descriptor', '[sd]', false, 'Group Policy links (policies apply to everything under an OU)'),
  e(
    'managedBy',
    'security-descriptor',
    '[sd]',
    true,
    'the manager of a group (AD tools grant the manager the right to change its membership)',
  ),
];

const BY_NAME = new Map(WRITEBACK_DENY_LIST.map((d) => [d.attribute.toLowerCase(), d]));

/** The deny-list entry of an attribute (any case), if it has one. */
export function deniedAttribute(name: string): DenyEntry | undefined {
  return BY_NAME.get(name.toLowerCase());
}
