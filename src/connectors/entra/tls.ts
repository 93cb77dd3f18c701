/**
 * Trusting an extra CA (target.entra.ca, or the emulator's self-signed certificate) in-process.
 *
 * `tls.setDefaultCACertificates` (Node ≥ 22.19) changes the CA list every new TLS connection uses by
 * default. Verified on Node 24 with a self-signed server: it is honoured by global fetch (undici, which the
 * Graph SDK's fetch step uses), by node:https, and by @azure/core-rest-pipeline's default HTTP client (which
 * @azure/identity uses for the token request) — even after an earlier connection to the same host failed.
 * test/connectors/entra/tls.test.ts checks all three.
 */
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { TargetError } from '../../errors.js';

const trusted = new Set<string>();

export function trustCa(pem: string): void {
  const key = pem.trim();
  if (trusted.has(key)) return;
  const setDefault = (tls as unknown as { setDefaultCACertificates?: (certs: string[]) => void })
    .setDefaultCACertificates;
  if (typeof setDefault !== 'function') {
    throw new TargetError(
      'entra_ca_unsupported',
      `trusting an extra CA in-process needs Node >= 22.19 (this is ${process.version})`,
      {
        hint: 'upgrade Node, or start adsync with NODE_EXTRA_CA_CERTS=<the PEM file>',
      },
    );
  }
  if (!key.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TargetError('entra_ca_invalid', 'target.entra.ca is not a PEM certificate', {
      hint: 'point it at a file holding -----BEGIN CERTIFICATE----- blocks',
    });
  }
  const blocks = key.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  setDefault([...tls.getCACertificates('default'), ...blocks]);
  trusted.add(key);
}

export async function trustCaFile(path: string): Promise<void> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new TargetError(
      'entra_ca_unreadable',
      `cannot read target.entra.ca ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        hint: 'relative paths are relative to the spec file',
      },
    );
  }
  trustCa(pem);
}
