/**
 * Exit codes as terraform's (issue 14): every error exits 1 — usage errors too, so `plan --detailed-exitcode`
 * never says "changes" (2) for a typo a pipeline would then go on to apply; `--json` gives a typed error;
 * `--log-format json` prints the error as a JSON line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.js';

const cwd = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));

describe('exit codes and typed errors', () => {
  it('a usage error exits 1, with --detailed-exitcode too', async () => {
    for (const args of [
      ['plan', '--detailed-exitcode', '--bogus'],
      ['plan', '--format', 'xml', '--detailed-exitcode'],
      ['apply', 'a.json', 'b.json'],
    ]) {
      const r = await runCli(args, { cwd });
      assert.equal(r.code, 1, `adsync ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^Error: /m);
    }
  });

  it('an error quoting a value with escape codes prints them escaped', async () => {
    const r = await runCli(['plan', '-c', 'x\u001b[2K\rPlan: 0 to create.yaml'], { cwd });
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /[\u001b\r]/);
    assert.match(r.stderr, /x\\u001b\[2K\\rPlan: 0 to create\.yaml/);
  });

  it('--json: a typed error result (status, code, message)', async () => {
    const usage = await runCli(['plan', '--bogus', '--json'], { cwd });
    assert.equal(usage.code, 1);
    assert.deepEqual(JSON.parse(usage.stdout), {
      status: 1,
      error: { code: 'usage', message: 'Nonexistent flag: --bogus\nSee more help with --help' },
    });
    const missing = await runCli(['plan', '-c', 'nope.yaml', '--json'], { cwd });
    assert.equal(missing.code, 1);
    const body = JSON.parse(missing.stdout) as { status: number; error: { code: string; hint?: string } };
    assert.equal(body.status, 1);
    assert.equal(body.error.code, 'spec_not_found');
    assert.ok(body.error.hint);
  });

  it('--log-format json: errors are JSON lines on stderr, usage errors included', async () => {
    for (const [args, code] of [
      [['plan', '--bogus', '--log-format', 'json'], 'usage'],
      [['plan', '-c', 'nope.yaml', '--log-format=json'], 'spec_not_found'],
    ] as const) {
      const r = await runCli([...args], { cwd });
      assert.equal(r.code, 1);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !/^\(node:\d+\) |^\(Use `node/.test(l)); // Node's own warnings aside
      assert.ok(lines.length > 0);
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const error = parsed.find((p) => p['event'] === 'error');
      assert.equal(error?.['level'], 'error');
      assert.equal(error?.['code'], code);
      assert.equal(error?.['command'], 'plan');
    }
  });
});
