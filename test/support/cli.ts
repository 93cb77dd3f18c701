/** Runs the built CLI (bin/run.js) as a user would, in a child process. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/model/plan.js';

export const BIN = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** another build's bin/run.js */ bin?: string;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`adsync ${args.join(' ')} did not finish in ${options.timeoutMs ?? 120000} ms\n${stderr}`));
    }, options.timeoutMs ?? 120000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** `adsync plan -c SPEC --format json`, which must exit 0: the plan it prints. */
export async function planJson(spec: string, env?: NodeJS.ProcessEnv): Promise<Plan> {
  const r = await runCli(['plan', '-c', spec, '--format', 'json'], env === undefined ? {} : { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Plan;
}
