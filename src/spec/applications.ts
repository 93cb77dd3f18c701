/**
 * The `applications:` names and the apps of Entra Connect's "app and attribute filtering" they stand for
 * (the `app` column of reference/app-attributes.csv). A spec names apps in kebab-case; the engine looks the
 * attribute lists up by the CSV name.
 *
 * | spec name                    | app-attributes.csv app                         |
 * | ---------------------------- | ---------------------------------------------- |
 * | exchange-online              | Exchange Online                                |
 * | sharepoint-online            | SharePoint Online                              |
 * | teams                        | Teams and Skype for Business Online            |
 * | office-365-proplus           | Microsoft 365 Apps for enterprise              |
 * | azure-rms                    | Azure RMS                                      |
 * | intune                       | Intune                                         |
 * | dynamics-crm                 | Dynamics CRM                                   |
 * | exchange-mail-public-folder  | Exchange Mail Public Folder                    |
 * | windows-10                   | Windows 10                                     |
 * | third-party-applications     | 3rd party applications                         |
 * | exchange-hybrid-writeback    | Exchange hybrid writeback (Entra ID -> AD)     | (writeback only)
 * | device-writeback             | Device writeback (Entra ID -> AD)              | (writeback only)
 *
 * The two writeback sets flow Entra ID → AD, so they are not valid in `applications:` (inbound filtering);
 * they belong to writeback rules.
 */
export interface ApplicationInfo {
  /** The kebab-case name used in the spec. */
  name: string;
  /** The app's name in reference/app-attributes.csv. */
  csvName: string;
  direction: 'inbound' | 'writeback';
}

export const APPLICATIONS: readonly ApplicationInfo[] = [
  { name: 'exchange-online', csvName: 'Exchange Online', direction: 'inbound' },
  { name: 'sharepoint-online', csvName: 'SharePoint Online', direction: 'inbound' },
  { name: 'teams', csvName: 'Teams and Skype for Business Online', direction: 'inbound' },
  { name: 'office-365-proplus', csvName: 'Microsoft 365 Apps for enterprise', direction: 'inbound' },
  { name: 'azure-rms', csvName: 'Azure RMS', direction: 'inbound' },
  { name: 'intune', csvName: 'Intune', direction: 'inbound' },
  { name: 'dynamics-crm', csvName: 'Dynamics CRM', direction: 'inbound' },
  { name: 'exchange-mail-public-folder', csvName: 'Exchange Mail Public Folder', direction: 'inbound' },
  { name: 'windows-10', csvName: 'Windows 10', direction: 'inbound' },
  { name: 'third-party-applications', csvName: '3rd party applications', direction: 'inbound' },
  { name: 'exchange-hybrid-writeback', csvName: 'Exchange hybrid writeback (Entra ID -> AD)', direction: 'writeback' },
  { name: 'device-writeback', csvName: 'Device writeback (Entra ID -> AD)', direction: 'writeback' },
];

/** The names valid in `applications:`. */
export const INBOUND_APPLICATIONS: readonly string[] = APPLICATIONS.filter((a) => a.direction === 'inbound').map(
  (a) => a.name,
);

/** Spec name → app-attributes.csv name (undefined for an unknown name). */
export function applicationCsvName(name: string): string | undefined {
  return APPLICATIONS.find((a) => a.name === name)?.csvName;
}
