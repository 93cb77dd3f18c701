/**
 * Writes a deterministic synthetic AD export for benchmarks:
 *   node dist/bench/generate.js --users 100000 --groups 10000 --memberships 1000000 --out bench/out/forest.ldif [--seed N]
 * The file is streamed; the same options and seed give the same bytes. See bench/lib/forest.ts for its layout.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { writeForest } from './lib/forest.js';

export { ForestGenerator, generateForest, writeForest } from './lib/forest.js';
export type { ForestOptions, ForestSummary } from './lib/forest.js';

function count(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} must be a non-negative integer, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      groups: { type: 'string' },
      memberships: { type: 'string' },
      seed: { type: 'string' },
      domain: { type: 'string' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/generate.js --users N --groups N --memberships N --out FILE [--seed N] [--domain corp.example]\n',
    );
    return;
  }
  const out = values.out ?? 'bench/out/forest.ldif';
  const options = {
    users: count('users', values.users, 1000),
    groups: count('groups', values.groups, 100),
    memberships: count('memberships', values.memberships, 10000),
    seed: count('seed', values.seed, 1),
    ...(values.domain === undefined ? {} : { domain: values.domain }),
  };
  await mkdir(dirname(out), { recursive: true });
  const started = performance.now();
  const s = await writeForest(options, out);
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `wrote ${out} in ${ms} ms: ${s.users} users (${s.serviceAccounts} in ${s.serviceAccountsOu}, ${s.disabledUsers} disabled), ` +
      `${s.groups} groups (${s.distributionGroups} distribution lists), ${s.contacts} contacts, ${s.ous} OUs, ` +
      `${s.memberships} memberships (${s.nestedMemberships} nested), seed ${options.seed}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`generate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
