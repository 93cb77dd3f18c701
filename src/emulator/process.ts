/**
 * The embedded emulator (`target.emulator`) in a process of its own. adsync's memory then holds only its own
 * data (a tenant of 100,000 users is the emulator's to keep, not the CLI's), and the emulator serves on the
 * second core while adsync parses its sources. A child whose parent dies (a killed apply) exits without
 * saving, exactly as an in-process emulator would have died with it; a normal close saves as before.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from './index.js';

/** What a client needs of a running emulator, and a way to stop it. */
export type EmulatorProcess = Pick<RunningEmulator, 'url' | 'authorityHost' | 'port' | 'tenantId' | 'initialDomain' | 'clientId' | 'clientSecret' | 'certPem' | 'close'>;

type Info = Omit<EmulatorProcess, 'close'>;
type ToChild = { type: 'start'; options: EmulatorOptions } | { type: 'close' };
type FromChild = { type: 'started'; info: Info } | { type: 'closed' } | { type: 'error'; message: string };

const CHILD_ENV = 'ADSYNC_EMULATOR_CHILD';

export function startEmulatorProcess(options: EmulatorOptions): Promise<EmulatorProcess> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: '1' },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onEarlyExit = (code: number | null) => reject(new Error(`the embedded Graph emulator exited while starting (code ${code})`));
    child.once('exit', onEarlyExit);
    child.once('message', (msg: FromChild) => {
      child.off('exit', onEarlyExit);
      if (msg.type === 'error') {
        child.kill();
        reject(new Error(msg.message));
        return;
      }
      if (msg.type !== 'started') return;
      resolve({
        ...msg.info,
        async close() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const closed = new Promise<void>((done) => child.on('message', (m: FromChild) => m.type === 'closed' && done()));
          child.send({ type: 'close' } satisfies ToChild);
          await Promise.race([closed, exited]);
          await exited;
        },
      });
    });
    child.send({ type: 'start', options } satisfies ToChild);
  });
}

/** The child side: start on request, close (and save) on request, and die quietly if the parent goes. */
function serve(): void {
  let emulator: RunningEmulator | undefined;
  const send = (m: FromChild) => process.send?.(m);
  process.on('disconnect', () => process.exit(1)); // the parent is gone: no save, as if killed with it
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'start') {
      startEmulator(msg.options).then(
        (e) => {
          emulator = e;
          const { url, authorityHost, port, tenantId, initialDomain, clientId, clientSecret, certPem } = e;
          send({ type: 'started', info: { url, authorityHost, port, tenantId, initialDomain, clientId, clientSecret, certPem } });
        },
        (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
      );
    } else if (msg.type === 'close') {
      void (emulator?.close() ?? Promise.resolve()).finally(() => {
        send({ type: 'closed' });
        process.disconnect();
        process.exit(0);
      });
    }
  });
}

if (process.env[CHILD_ENV] === '1' && process.send !== undefined) serve();
