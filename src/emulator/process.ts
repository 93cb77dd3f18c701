/**
 * The embedded emulator (`target.emulator`) in a process of its own. adsync's memory then holds only its own
 * data (a tenant of 100,000 users is the emulator's to keep, not the CLI's), and the emulator serves on the
 * second core while adsync parses its sources. A child whose parent dies (a killed apply) exits without
 * saving, exactly as an in-process emulator would have died with it; a normal close saves as before.
 */
import { fork } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdsyncError } from '../errors.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from './index.js';

/** What a client needs of a running emulator, and a way to stop it. */
export type EmulatorProcess = Pick<
  RunningEmulator,
  | 'url'
  | 'authorityHost'
  | 'port'
  | 'tenantId'
  | 'initialDomain'
  | 'clientId'
  | 'clientSecret'
  | 'certPem'
  | 'close'
  | 'save'
>;

type Info = Omit<EmulatorProcess, 'close' | 'save'>;
type ToChild = { type: 'start'; options: EmulatorOptions } | { type: 'close' } | { type: 'save' };
type FromChild =
  { type: 'started'; info: Info } | { type: 'closed' } | { type: 'saved' } | { type: 'error'; message: string };

/** The embedded tenant failed (a corrupt state file, a full disk): one clear line, never "unexpected". */
function emulatorError(message: string, statePath: string | undefined): AdsyncError {
  return new AdsyncError('emulator_state', `the embedded tenant: ${message}`, {
    hint:
      statePath === undefined
        ? 'run again with --debug for details'
        : /cannot load/.test(message)
          ? `the state file is damaged or not an emulator state: move ${statePath} aside (or delete it) to start a new tenant`
          : `free space or fix the permissions of ${dirname(statePath)}, then run again (this run's changes to the embedded tenant were not saved)`,
  });
}

const CHILD_ENV = 'ADSYNC_EMULATOR_CHILD';

export function startEmulatorProcess(options: EmulatorOptions): Promise<EmulatorProcess> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: '1' },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onEarlyExit = (code: number | null) =>
      reject(emulatorError(`the Graph emulator exited while starting (code ${code})`, options.statePath));
    child.once('exit', onEarlyExit);
    child.once('message', (msg: FromChild) => {
      child.off('exit', onEarlyExit);
      if (msg.type === 'error') {
        child.kill();
        reject(emulatorError(msg.message, options.statePath));
        return;
      }
      if (msg.type !== 'started') return;
      resolve({
        ...msg.info,
        async close() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          let failure: string | undefined;
          const closed = new Promise<void>((done) =>
            child.on('message', (m: FromChild) => {
              if (m.type === 'error') failure = m.message;
              if (m.type === 'closed' || m.type === 'error') done();
            }),
          );
          child.send({ type: 'close' } satisfies ToChild);
          await Promise.race([closed, exited]);
          await exited;
          if (failure !== undefined) throw emulatorError(failure, options.statePath);
        },
        async save() {
          if (child.exitCode !== null || child.signalCode !== null)
            throw emulatorError('the Graph emulator is no longer running', options.statePath);
          const reply = new Promise<FromChild | undefined>((done) => {
            const on = (m: FromChild): void => {
              if (m.type !== 'saved' && m.type !== 'error') return;
              child.off('message', on);
              done(m);
            };
            child.on('message', on);
            void exited.then(() => done(undefined));
          });
          child.send({ type: 'save' } satisfies ToChild);
          const m = await reply;
          if (m === undefined) throw emulatorError('the Graph emulator exited while saving', options.statePath);
          if (m.type === 'error') throw emulatorError(m.message, options.statePath);
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
  // The last word reaches the parent before this process goes.
  const finish = (m: FromChild, code: number): void => {
    if (process.send === undefined) process.exit(code);
    process.send(m, () => {
      process.disconnect();
      process.exit(code);
    });
  };
  process.on('disconnect', () => process.exit(1)); // the parent is gone: no save, as if killed with it
  // Ctrl-C reaches the whole process group: the parent decides (it finishes, saves through close, or dies).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'start') {
      startEmulator(msg.options).then(
        (e) => {
          emulator = e;
          const { url, authorityHost, port, tenantId, initialDomain, clientId, clientSecret, certPem } = e;
          send({
            type: 'started',
            info: { url, authorityHost, port, tenantId, initialDomain, clientId, clientSecret, certPem },
          });
        },
        (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
      );
    } else if (msg.type === 'save') {
      (emulator?.save() ?? Promise.resolve()).then(
        () => send({ type: 'saved' }),
        (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
      );
    } else if (msg.type === 'close') {
      (emulator?.close() ?? Promise.resolve()).then(
        () => finish({ type: 'closed' }, 0),
        (err: unknown) => finish({ type: 'error', message: err instanceof Error ? err.message : String(err) }, 1),
      );
    }
  });
}

if (process.env[CHILD_ENV] === '1' && process.send !== undefined) serve();
