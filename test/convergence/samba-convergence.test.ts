/**
 * Model-based convergence through a real directory: the same generated histories and the same oracle as
 * convergence.test.ts, realized in Samba AD over LDAPS (adds, modifies, renames and moves by modifyDN, deletes;
 * each sequence in its own OU tree) and read by adsync's AD connector. Fewer sequences: every step is LDAP work.
 * Restores are left out here: reanimating a tombstone with its objectGUID is not something this harness does.
 *
 *   ADSYNC_PBT_SEED=<n> ADSYNC_PBT_SAMBA_RUNS=<n> npx node --test dist/test/convergence/samba-convergence.test.js
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Attribute, Change as LdapChange, type Client } from 'ldapts';
import { startEmulator } from '../../src/emulator/index.js';
import { adminClient, sambaSkipReason, startSamba, type SambaDc } from '../support/samba.js';
import { addOu, deleteTree, TEST_USER_PASSWORD, unicodePwd, uniqueSuffix } from '../support/samba-seed.js';
import { describeSteps, runSequence, stepArb, type SequenceContext, type SourceBackend } from './harness.js';
import { dnOf, guidOf, OUS, setWorld, TEXT_ATTRS, WORLD, type DObject, type Directory, type DUser } from './model.js';

const skip = await sambaSkipReason();
const SEED = Number(process.env.ADSYNC_PBT_SEED ?? 20261202);
const RUNS = Number(process.env.ADSYNC_PBT_SAMBA_RUNS ?? 10);

/** AD attribute name of each model field (undefined = not an attribute). */
const USER_ATTRS: [keyof DUser, string][] = [
  ['upn', 'userPrincipalName'],
  ['mail', 'mail'],
  ...TEXT_ATTRS.map((a) => [a, a] as [keyof DUser, string]),
];

class SambaBackend implements SourceBackend {
  root = '';
  seqOu = '';
  constructor(
    readonly dc: SambaDc,
    readonly admin: Client,
  ) {}

  domains = ['contoso.test'];

  async begin(sequence: number): Promise<void> {
    const sfx = uniqueSuffix().slice(0, 5);
    this.seqOu = await addOu(this.admin, `seq-${sequence}-${sfx}`, this.root);
    for (const ou of OUS) await addOu(this.admin, ou, this.seqOu);
    setWorld({ domain: 'contoso.test', base: this.seqOu, samSuffix: sfx, uniqueUpn: true });
  }

  sourceYaml(): string {
    return `  - name: corp
    ldap:
      url: ${this.dc.url}
      bindDn: ${JSON.stringify(this.dc.adminDn)}
      password: { env: ADSYNC_TEST_LDAP_PASSWORD }
      ca: ${JSON.stringify(this.dc.caPath)}
    scope:
      ous: { include: [${JSON.stringify(this.seqOu)}], exclude: [${JSON.stringify(`OU=Excluded,${this.seqOu}`)}] }`;
  }

  /** LDAP operations that take the directory from `was` to `now` (the model's AD rules match AD's). */
  async realize(was: Directory, now: Directory): Promise<void> {
    const c = this.admin;
    // deletes first: AD drops the links (members, manager) to them, as the model does
    for (const [key, o] of was.objects) if (!now.objects.has(key)) await c.del(dnOf(o));
    // adds (users with a password, so they can be enabled; then the rest as modifications)
    for (const [key, o] of now.objects) {
      if (was.objects.has(key)) continue;
      const base = {
        objectClass: o.kind === 'user' ? ['top', 'person', 'organizationalPerson', 'user'] : ['top', 'group'],
        cn: o.cn,
        'mS-DS-ConsistencyGuid': guidOf(key),
      };
      const attrs =
        o.kind === 'user'
          ? {
              ...base,
              sAMAccountName: o.sam,
              unicodePwd: unicodePwd(TEST_USER_PASSWORD),
              userAccountControl: String(o.uac),
            }
          : { ...base, sAMAccountName: `${o.key}${WORLD.samSuffix}`, groupType: '-2147483646' };
      await c.add(
        dnOf(o),
        Object.entries(attrs).map(
          ([type, v]) => new Attribute({ type, values: (Array.isArray(v) ? v : [v]) as string[] | Buffer[] }),
        ),
      );
    }
    // renames and moves
    for (const [key, o] of now.objects) {
      const old = was.objects.get(key);
      if (old && dnOf(old) !== dnOf(o)) await c.modifyDN(dnOf(old), dnOf(o));
    }
    // attributes, manager and members (by the DNs objects have now)
    for (const [key, o] of now.objects) {
      const old = was.objects.get(key);
      const changes: LdapChange[] = [];
      const set = (type: string, before: string | undefined, after: string | undefined): void => {
        if (before === after) return;
        changes.push(
          after === undefined
            ? new LdapChange({ operation: 'delete', modification: new Attribute({ type }) })
            : new LdapChange({ operation: 'replace', modification: new Attribute({ type, values: [after] }) }),
        );
      };
      if (o.kind === 'user') {
        const prev = old?.kind === 'user' ? old : undefined;
        for (const [field, type] of USER_ATTRS)
          set(type, prev?.[field] as string | undefined, o[field] as string | undefined);
        if (prev && prev.uac !== o.uac) set('userAccountControl', String(prev.uac), String(o.uac));
        // manager is a linked attribute: it follows renames and vanishes with a deleted manager
        const prevKey = prev?.manager !== undefined && now.objects.has(prev.manager) ? prev.manager : undefined;
        if (prevKey !== o.manager)
          set('manager', prevKey ?? '', o.manager === undefined ? undefined : dnOf(now.objects.get(o.manager)!));
      } else {
        const prev = old?.kind === 'group' ? old.members.filter((m) => now.objects.has(m)) : [];
        const add = o.members.filter((m) => !prev.includes(m)).map((m) => dnOf(now.objects.get(m) as DObject));
        const del = prev.filter((m) => !o.members.includes(m)).map((m) => dnOf(now.objects.get(m) as DObject));
        if (add.length > 0)
          changes.push(
            new LdapChange({ operation: 'add', modification: new Attribute({ type: 'member', values: add }) }),
          );
        if (del.length > 0)
          changes.push(
            new LdapChange({ operation: 'delete', modification: new Attribute({ type: 'member', values: del }) }),
          );
      }
      if (changes.length > 0) await c.modify(dnOf(o), changes);
    }
  }

  async reset(): Promise<void> {
    if (this.seqOu) await deleteTree(this.admin, this.seqOu);
  }
}

describe(
  'convergence through Samba AD: random histories realized over LDAPS, planned and applied into the emulator',
  { skip },
  () => {
    let dir: string;
    let dc: SambaDc;
    let admin: Client;
    let backend: SambaBackend;
    let ctx: SequenceContext;
    const savedPassword = process.env.ADSYNC_TEST_LDAP_PASSWORD;

    before(async () => {
      dc = await startSamba();
      admin = await adminClient(dc);
      process.env.ADSYNC_TEST_LDAP_PASSWORD = dc.adminPassword;
      backend = new SambaBackend(dc, admin);
      backend.root = await addOu(admin, `adsync-convergence-${uniqueSuffix()}`, dc.baseDn);
      dir = await mkdtemp(join(tmpdir(), 'adsync-samba-convergence-'));
      const template = join(dir, 'template-tenant.json');
      const e = await startEmulator({
        statePath: template,
        initialDomain: 'contoso.onmicrosoft.com',
        domains: backend.domains,
      });
      await e.close();
      ctx = {
        dir,
        template,
        backend,
        stats: { sequences: 0, steps: 0, effective: 0, applies: 0, writes: 0, explained: 0 },
      };
    });
    after(async () => {
      if (backend?.root) await deleteTree(admin, backend.root).catch(() => undefined);
      await admin?.unbind().catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
      if (savedPassword === undefined) delete process.env.ADSYNC_TEST_LDAP_PASSWORD;
      else process.env.ADSYNC_TEST_LDAP_PASSWORD = savedPassword;
      setWorld({ domain: 'contoso.example', base: 'DC=contoso,DC=example', samSuffix: '', uniqueUpn: false });
    });

    it(`${RUNS} sequences of 10+ steps converge (seed ${SEED})`, { timeout: 30 * 60_000 }, async () => {
      const started = Date.now();
      const property = fc.asyncProperty(
        fc.array(stepArb({ without: ['restore'] }), { minLength: 10, maxLength: 16 }),
        async (steps) => runSequence(ctx, steps),
      );
      // Shrinking re-runs whole LDAP histories: a few attempts, then report what it has.
      const details = await fc.check(property, {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: false,
        interruptAfterTimeLimit: 15 * 60_000,
        markInterruptAsFailure: false,
      });
      const s = ctx.stats;
      process.stdout.write(
        `# samba convergence: ${s.sequences} sequences (with shrinking), ${s.steps} steps (${s.effective} changed something), ${s.applies} applies, ${s.writes} writes, ${s.explained} explains, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      assert.ok(s.sequences >= Math.min(RUNS, 1), 'sequences ran');
      if (details.failed) {
        const steps = details.counterexample![0];
        assert.fail(
          `Samba convergence failed after ${details.numRuns} run(s): ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\n` +
            `replay: ADSYNC_PBT_SEED=${details.seed} ADSYNC_PBT_PATH=${details.counterexamplePath} ADSYNC_PBT_SAMBA_RUNS=1 npx node --test dist/test/convergence/samba-convergence.test.js\n` +
            `shrunk sequence (${steps.length} steps after the initial forest of harness.ts, a final apply follows):\n${describeSteps(steps)}`,
        );
      }
    });
  },
);
