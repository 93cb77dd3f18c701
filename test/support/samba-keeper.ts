/**
 * Owns one `samba -i` for the test harness (see samba.ts). Usage: node samba-keeper.js STATE_DIR SMB_CONF.
 * Stops Samba and deletes STATE_DIR once no lease holder (STATE_DIR/leases/<pid>) has been alive for
 * ADSYNC_SAMBA_IDLE_MS (default 20 s), unless ADSYNC_SAMBA_KEEP=1; also on SIGTERM/SIGINT, or when Samba dies.
 */
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../src/apply/lock.js';

const [dir, conf] = process.argv.slice(2);
if (!dir || !conf) {
  process.stderr.write('usage: samba-keeper STATE_DIR SMB_CONF\n');
  process.exit(2);
}
const idleMs = Number(process.env['ADSYNC_SAMBA_IDLE_MS'] ?? 20_000);
const keep = process.env['ADSYNC_SAMBA_KEEP'] === '1';

const samba = spawn('samba', ['-s', conf, '-i', '--debug-stdout'], {
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const log = (m: string) => process.stdout.write(`[keeper ${new Date().toISOString()}] ${m}\n`);
log(`samba pid ${samba.pid ?? '?'} started (idle grace ${idleMs} ms${keep ? ', kept until stopped' : ''})`);

let exiting = false;
function shutdown(why: string): void {
  if (exiting) return;
  exiting = true;
  log(`stopping: ${why}`);
  const pid = samba.pid;
  if (pid !== undefined && samba.exitCode === null) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 5000;
  const wait = setInterval(() => {
    const gone = pid === undefined || !processAlive(pid);
    if (gone || Date.now() > deadline) {
      clearInterval(wait);
      if (!gone && pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(dir!, { recursive: true, force: true });
      process.exit(0);
    }
  }, 100);
}

samba.on('exit', (code, signal) => {
  if (!exiting) shutdown(`samba exited (${code ?? signal})`);
});
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

let lastHeld = Date.now();
setInterval(() => {
  if (keep) return;
  let holders: number[] = [];
  try {
    holders = readdirSync(join(dir, 'leases'))
      .map(Number)
      .filter((p) => Number.isInteger(p) && processAlive(p));
  } catch {
    /* no leases dir yet */
  }
  if (holders.length > 0) lastHeld = Date.now();
  else if (Date.now() - lastHeld > idleMs) shutdown(`no lease holder for ${idleMs} ms`);
}, 500);
