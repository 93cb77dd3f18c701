/**
 * Azurite (the official Azure Storage emulator, a devDependency) for the state backend tests: the blob
 * service on 127.0.0.1 only, on a free port, with its data in a temp directory; stopped by the test.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The well-known development account key Microsoft publishes for Azurite (not a secret of anyone's). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  connectionString: string;
  accountUrl: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      ok(true);
    });
    c.once('error', () => ok(false));
  });
}

export async function startAzurite(): Promise<Azurite> {
  const location = await mkdtemp(join(tmpdir(), 'adsync-azurite-'));
  const port = await freePort();
  const bin = resolve(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'azurite-blob');
  const child: ChildProcess = spawn(
    bin,
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let early = false;
  void exited.then(() => {
    early = true;
  });
  // Wait until it accepts connections (or exits): readiness, not a timing threshold.
  while (!(await accepting(port))) {
    if (early) throw new Error(`azurite-blob exited before listening: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const accountUrl = `http://127.0.0.1:${port}/devstoreaccount1`;
  return {
    accountUrl,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`,
    stop: async () => {
      if (!early) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(location, { recursive: true, force: true });
    },
  };
}
