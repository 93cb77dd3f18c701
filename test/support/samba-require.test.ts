/**
 * No silent skips in CI: under ADSYNC_REQUIRE_SAMBA=1 (set by .ci/run), a Samba AD DC that cannot run fails
 * the Samba test files instead of skipping them. These tests exercise the gate (sambaSkipReason) in child
 * processes with Samba switched off or hidden from PATH; none of them touches the shared DC.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './samba.js';

const SAMBA_JS = fileURLToPath(new URL('./samba.js', import.meta.url));

/** What a Samba test file does first: `await sambaSkipReason()`, in a fresh process with this environment. */
function gate(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import(${JSON.stringify(SAMBA_JS)}).then((m) => m.sambaSkipReason()).then(
    (r) => { process.stdout.write(JSON.stringify(r)); },
    (e) => { process.stderr.write(e.message); process.exitCode = 3; })`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

const base = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env['ADSYNC_REQUIRE_SAMBA'];
  delete env['ADSYNC_SKIP_SAMBA'];
  return env;
};

describe('ADSYNC_REQUIRE_SAMBA: a Samba AD DC that cannot run fails the run instead of skipping', () => {
  let noSamba: string;
  before(async () => {
    // A PATH with a shell and nothing else: samba, samba-tool and openssl are "not installed", and
    // samba-setup.sh (which the harness tries as root) finds neither `id` nor apt-get, so it installs nothing.
    noSamba = await mkdtemp(join(tmpdir(), 'adsync-nosamba-'));
    await symlink('/bin/sh', join(noSamba, 'sh'));
  });
  after(async () => rm(noSamba, { recursive: true, force: true }));

  it('the policy: a reason to skip becomes an error; no reason stays no reason', () => {
    assert.throws(
      () => requireOrSkip('Samba is missing', { ADSYNC_REQUIRE_SAMBA: '1' }),
      /^Error: ADSYNC_REQUIRE_SAMBA=1, but the Samba AD DC tests cannot run: Samba is missing$/,
    );
    assert.equal(requireOrSkip(false, { ADSYNC_REQUIRE_SAMBA: '1' }), false);
    assert.equal(requireOrSkip('Samba is missing', {}), 'Samba is missing', 'without it: a skip, with its reason');
    assert.equal(requireOrSkip('Samba is missing', { ADSYNC_REQUIRE_SAMBA: '0' }), 'Samba is missing');
  });

  it('ADSYNC_SKIP_SAMBA under ADSYNC_REQUIRE_SAMBA=1 fails; without it, it skips saying why', async () => {
    const required = await gate({ ...base(), ADSYNC_SKIP_SAMBA: '1', ADSYNC_REQUIRE_SAMBA: '1' });
    assert.equal(required.code, 3, `the gate must fail: ${required.stdout}`);
    assert.match(
      required.stderr,
      /ADSYNC_REQUIRE_SAMBA=1, but the Samba AD DC tests cannot run: ADSYNC_SKIP_SAMBA is set/,
    );
    const optional = await gate({ ...base(), ADSYNC_SKIP_SAMBA: '1' });
    assert.equal(optional.code, 0, optional.stderr);
    assert.match(JSON.parse(optional.stdout) as string, /^ADSYNC_SKIP_SAMBA is set/);
  });

  it('Samba missing from PATH under ADSYNC_REQUIRE_SAMBA=1 fails, naming what is missing', async () => {
    const required = await gate({ ...base(), PATH: noSamba, ADSYNC_REQUIRE_SAMBA: '1' });
    assert.equal(required.code, 3, `the gate must fail: ${required.stdout}`);
    assert.match(
      required.stderr,
      /ADSYNC_REQUIRE_SAMBA=1, but the Samba AD DC tests cannot run: Samba AD DC is (still )?not installed/,
    );
    const optional = await gate({ ...base(), PATH: noSamba });
    assert.equal(optional.code, 0, optional.stderr);
    assert.match(JSON.parse(optional.stdout) as string, /Samba AD DC is (still )?not installed/);
  });
});
