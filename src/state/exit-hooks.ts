/**
 * Work that must happen before a signalled process exits: releasing a blob lease (so the next run need not
 * wait for it to expire) and saving the journal lines not yet written. A lock file goes on process 'exit'
 * (synchronously), but a lease is released over the network, so the signal handler (src/cli/interrupt.ts)
 * awaits these hooks, bounded, before it exits.
 */
type Hook = () => Promise<void>;

const hooks = new Set<Hook>();

/** Registers `hook`; the returned function unregisters it (call it once the work is done the normal way). */
export function beforeSignalExit(hook: Hook): () => void {
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/**
 * Runs every hook (in registration order, each once; failures ignored: the process is leaving). Resolves
 * after `limitMs` at the latest, so unreachable storage can't keep an interrupted run alive.
 */
export async function runSignalExitHooks(limitMs = 10_000): Promise<void> {
  const all = [...hooks];
  hooks.clear();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
    timer.unref();
  });
  const run = (async () => {
    for (const hook of all) await hook().catch(() => undefined);
  })();
  await Promise.race([run, bound]);
  clearTimeout(timer);
}
