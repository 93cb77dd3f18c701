/**
 * Redaction (issue 6) where a secret does reach a message. The secret scan of output.test.ts shows that no
 * representative run echoes a secret, and passes with redaction switched off (none of those runs puts one in
 * a message); these tests put a resolved secret, a bearer token and a client_secret form field into an error
 * (text, --json, --debug with its stack) and into both log formats, in a child process as the CLI runs them,
 * and require every byte that comes out to be clean.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { redact, registerSecret } from '../../src/cli/redact.js';
import { assertNoSecrets, CLIENT_SECRET } from '../support/tenant.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIST = fileURLToPath(new URL('../../src/', import.meta.url));
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJncmFwaCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

/** A command whose run logs and then fails with the secret, the token and a form field in the message. */
function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const { AdsyncCommand } = await import(${JSON.stringify(`${DIST}cli/base.js`)});
    const { registerSecret } = await import(${JSON.stringify(`${DIST}cli/redact.js`)});
    const { createLog } = await import(${JSON.stringify(`${DIST}cli/log.js`)});
    const secret = process.env.SECRET;
    registerSecret(secret); // as readSecret does for every secret the spec resolves
    class Leaky extends AdsyncCommand {
      static id = 'leaky';
      async run() {
        const format = process.argv.includes('--log-format=json') ? 'json' : 'text';
        createLog(format, 'leaky').warn('retrying with ' + secret, { event: 'leak.test', detail: 'secret ' + secret + ' and Bearer ${TOKEN}' });
        throw new Error('token request failed: client_secret=' + secret + '&scope=x (sent ' + secret + ')\\nAuthorization: Bearer ${TOKEN}');
      }
    }
    await Leaky.run(process.argv.slice(1).filter((a) => a !== '--log-format=json'), ${JSON.stringify(ROOT)});`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, '--', ...argv],
      { env: { ...process.env, SECRET: CLIENT_SECRET, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe('redaction of secrets that reach a message', () => {
  it('redact(): registered secrets, bearer tokens and client_secret fields become ***', () => {
    registerSecret('s3cr3t-value-for-redact');
    assert.equal(redact('a s3cr3t-value-for-redact b s3cr3t-value-for-redact'), 'a *** b ***');
    assert.equal(redact(`Authorization: Bearer ${TOKEN}`), 'Authorization: Bearer ***');
    assert.equal(
      redact('grant_type=client_credentials&client_secret=abc%2Fdef&scope=x'),
      'grant_type=client_credentials&client_secret=***&scope=x',
    );
  });

  for (const [what, argv] of [
    ['an error line', []],
    ['an error with --debug (message and stack)', ['--debug']],
    ['an error as --json', ['--json']],
    ['a JSON log line', ['--log-format=json']],
  ] as const) {
    it(`${what}: the command fails, and nothing secret comes out`, async () => {
      const r = await run([...argv]);
      assert.equal(r.code, 1, r.stderr);
      assertNoSecrets(r.stdout, `stdout (${what})`);
      assertNoSecrets(r.stderr, `stderr (${what})`);
      assert.equal((r.stdout + r.stderr).includes(TOKEN), false, 'the bearer token is gone');
      assert.match(
        r.stdout + r.stderr,
        /token request failed: client_secret=\*\*\*&scope=x \(sent \*\*\*\)/,
        'the error is there, redacted',
      );
      assert.match(r.stderr, /retrying with \*\*\*/, 'the log line is there, redacted');
    });
  }
});
