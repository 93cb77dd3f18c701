/** A private copy of the quickstart (spec, LDIF, embedded tenant) that a test may edit, and its CLI. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/model/plan.js';
import { runCli, type CliResult } from './cli.js';

const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));

export interface Quickstart {
  dir: string;
  spec: string;
  ldif: string;
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Rewrites the spec; `edit` gets the quickstart's text. */
  editSpec(edit: (text: string) => string): Promise<void>;
  /** Rewrites the LDIF; `edit` gets the quickstart's export. */
  editLdif(edit: (text: string) => string | Buffer): Promise<void>;
  /** `plan --format json`, asserting exit 0. */
  plan(): Promise<Plan>;
  close(): Promise<void>;
}

export async function quickstart(): Promise<Quickstart> {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-hostile-'));
  await cp(join(QUICKSTART, 'adsync.yaml'), join(dir, 'adsync.yaml'));
  await cp(join(QUICKSTART, 'corp.ldif'), join(dir, 'corp.ldif'));
  await cp(join(QUICKSTART, 'tenant.yaml'), join(dir, 'tenant.yaml'));
  const spec = join(dir, 'adsync.yaml');
  const ldif = join(dir, 'corp.ldif');
  const q: Quickstart = {
    dir,
    spec,
    ldif,
    cli: (args, env) =>
      runCli(
        args.map((a) => (a === 'SPEC' ? spec : a)),
        { cwd: dir, ...(env ? { env } : {}) },
      ),
    async editSpec(edit) {
      const before = await readFile(join(QUICKSTART, 'adsync.yaml'), 'utf8');
      const after = edit(before);
      assert.notEqual(after, before, 'the spec edit changed nothing');
      await writeFile(spec, after);
    },
    async editLdif(edit) {
      // always from the pristine export, so each case is one edit
      const before = await readFile(join(QUICKSTART, 'corp.ldif'), 'utf8');
      const after = edit(before);
      assert.notDeepEqual(after, before, 'the LDIF edit changed nothing');
      await writeFile(ldif, after);
    },
    async plan() {
      const r = await q.cli(['plan', '-c', 'SPEC', '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Plan;
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
  return q;
}

/** Adds custom flows under `objects.<kind>.flows` of the quickstart spec (YAML lines, already indented by 6). */
/** The line (1-based) of the first flow withFlows('user', …) adds to the quickstart spec: right after companyName. */
export const FIRST_ADDED_USER_FLOW_LINE =
  readFileSync(fileURLToPath(new URL('../../../examples/quickstart/adsync.yaml', import.meta.url)), 'utf8')
    .split('\n')
    .indexOf(`      companyName: '"Contoso"'`) + 2;

export function withFlows(kind: 'user' | 'group', lines: string[]): (text: string) => string {
  return (text) => {
    if (kind === 'user')
      return text.replace(
        `      companyName: '"Contoso"'\n`,
        `      companyName: '"Contoso"'\n${lines.map((l) => `      ${l}\n`).join('')}`,
      );
    // Under objects:, right after the user flows (the spec's later sections, licenses: and safety:, stay apart).
    return text.replace(
      `      companyName: '"Contoso"'\n`,
      `      companyName: '"Contoso"'\n  group:\n    flows:\n${lines.map((l) => `      ${l}\n`).join('')}`,
    );
  };
}
