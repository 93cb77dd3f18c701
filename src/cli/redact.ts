/**
 * Secrets never appear in output, logs or plan files. Every secret adsync resolves (passwords, client
 * secrets, tokens) is registered here, and every line adsync prints passes through `redact`.
 */
const secrets = new Set<string>();

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; secrets that short are refused elsewhere.
  if (value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  // Bearer tokens and client_secret form fields that may come back in HTTP error messages.
  out = out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, '$1***').replace(/(client_secret=)[^&\s]+/g, '$1***');
  return out;
}
