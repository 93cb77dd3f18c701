/**
 * The markdown plan as a pull-request comment (issue 14): within GitHub's 65,536 characters at any size
 * (the 100k-user benchmark forest, planned by the real engine and rendered by the real renderer), naming
 * the guard-rail verdict; a danger banner when apply would refuse (threshold, by how much, --force) or the
 * plan deletes, disables, takes over or touches admins; `markdownParts` cuts the whole plan into comments.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeForest } from '../../bench/lib/forest.js';
import { LdifSource } from '../../src/connectors/ldif/index.js';
import { buildDesired, readRequestFor } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFromDesired } from '../../src/engine/plan.js';
import { DISABLE_FIRST_RULE } from '../../src/engine/safety.js';
import { safetyStage } from '../../src/engine/stages/safety.js';
import type { Change } from '../../src/model/change.js';
import { summarize, type Plan } from '../../src/model/plan.js';
import { GITHUB_COMMENT_LIMIT, markdownLines, markdownParts, renderMarkdown } from '../../src/render/markdown.js';
import { loadSpec } from '../../src/spec/load.js';
import type { SafetySpec } from '../../src/spec/types.js';

const SAFETY: SafetySpec = { maxDeletes: 500, deleteMode: 'delete', deleteGraceDays: 7 };
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function planOf(changes: Change[], managed: number): Plan {
  return {
    formatVersion: 1,
    tool: { name: 'adsync', version: 't' },
    createdAt: '2026-01-01T00:00:00.000Z',
    spec: { path: '/home/runner/work/repo/adsync.yaml', digest: 'a'.repeat(64) },
    target: { system: 'entra', tenantId: 'tid-1' },
    changes,
    reports: [],
    summary: summarize(changes, []),
    managed,
  };
}
const del = (i: number, kind: 'user' | 'group' = 'user'): Change => ({
  action: 'delete',
  kind,
  anchor: `A${i}`,
  target: 'entra',
  id: `id${i}`,
  label: `user${i}@corp.example`,
  rule: 'r',
  reason: 'no longer in the source',
  ...(kind === 'group' ? { permanent: true as const } : {}),
});
const upd = (i: number, before: string, after: string): Change => ({
  action: 'update',
  kind: 'user',
  anchor: `U${i}`,
  target: 'entra',
  id: `u${i}`,
  label: `u${i}@corp.example`,
  rule: 'r',
  attributes: [{ name: 'jobTitle', before, after, flow: 'f' }],
});

/** Plans a forest from an LDIF into an empty tenant with the real engine (what `plan` does, minus the I/O of a tenant). */
async function planForest(dir: string, users: number, groups: number, memberships: number): Promise<Plan> {
  const ldif = join(dir, `forest-${users}.ldif`);
  await writeForest({ users, groups, memberships }, ldif);
  const specPath = join(dir, `adsync-${users}.yaml`);
  await writeFile(
    specPath,
    [
      'version: 1',
      'sources:',
      '  - name: corp',
      `    ldif: { path: ${JSON.stringify(ldif)} }`,
      '    scope:',
      '      domains: [corp.example]',
      'target:',
      '  emulator:',
      '    state: ./tenant.json',
      '    tenant: corp.onmicrosoft.com',
      '    domains: [corp.example]',
      'safety:',
      '  maxDeletes: 500',
      '',
    ].join('\n'),
  );
  const spec = await loadSpec(specPath);
  const flows = compileFlows(spec);
  const source = new LdifSource({ name: 'corp', path: ldif });
  const snapshot = await source.read(readRequestFor(spec.sources[0]!, flows));
  const desired = buildDesired(spec, [snapshot], flows);
  return planFromDesired({
    spec,
    specPath,
    desired,
    target: {
      system: 'entra',
      objects: [],
      deleted: [],
      tenant: { tenantId: 'tid-bench', verifiedDomains: ['corp.example'], initialDomain: 'corp.onmicrosoft.com' },
    },
    toolVersion: 't',
  }).plan;
}

describe('markdown: verdict and danger banner', () => {
  it('590 deletes of 1,000 over maxDeletes 500: the banner says apply refuses, which threshold, by how much, and --force', () => {
    const plan = planOf(
      range(590).map((i) => del(i)),
      1000,
    );
    const safety = { ...SAFETY, maxDeletePercent: 50 };
    const md = renderMarkdown(plan, { safety, violations: safetyStage(plan, safety, undefined) });
    assert.match(md, /^> \[!CAUTION\]\n> \*\*`adsync apply` will refuse this plan\*\*/m);
    assert.match(md, /^> - \*\*590 deletes\*\* exceed `safety\.maxDeletes` \(500\) by \*\*90\*\*$/m);
    assert.match(
      md,
      /^> - \*\*59\.0%\*\* of the 1,000 managed objects deleted exceeds `safety\.maxDeletePercent` \(50%\) by \*\*9\.0 points\*\*$/m,
    );
    assert.match(md, /`adsync apply --force`/);
    assert.match(md, /\*\*Guard rails: ⛔ apply will refuse this plan\*\* without `--force`/);
    assert.match(md, /590 users soft-deleted \(restorable from deleted items for 30 days\)/);
    assert.match(
      md,
      /^### adsync plan for `\/home\/runner\/work\/repo\/adsync\.yaml` → tenant `tid-1`$/m,
      'the tenant in the header (the path as the caller gives it)',
    );
    assert.match(md, /<summary><b>🗑️ Delete 590 users<\/b><\/summary>/);
    assert.match(md, /- … and 570 more \(in the full plan\)/, 'the first 20 in detail, the rest counted');
  });

  it('within the guard rails: the verdict says so; deletes, disables, take-overs and admins still raise a warning', () => {
    const calm = renderMarkdown(planOf([upd(1, 'Principal Engineer', 'Chief Architect')], 10), { safety: SAFETY });
    assert.match(calm, /\*\*Guard rails: ✅ within the limits\*\* \(maxDeletes 500\)/);
    assert.doesNotMatch(calm, /\[!CAUTION\]|\[!WARNING\]/);
    assert.match(calm, /- `jobTitle`: `"Principal Engineer"` → `"Chief Architect"`/, 'a short value at a glance');

    const disable: Change = {
      ...upd(2, 'x', 'y'),
      rule: DISABLE_FIRST_RULE,
      attributes: [
        {
          name: 'extension_0123456789abcdef0123456789abcdef_adsyncDeleteAfter',
          after: '2026-01-08T00:00:00.000Z',
          flow: DISABLE_FIRST_RULE,
        },
      ],
    } as Change;
    const adopt: Change = {
      action: 'adopt',
      kind: 'user',
      anchor: 'B',
      target: 'entra',
      id: 'admin-id',
      label: 'boss@corp.example',
      rule: 'r',
      match: 'soft-upn',
      matchedOn: 'userPrincipalName boss@corp.example',
      attributes: [],
    };
    const md = renderMarkdown(planOf([del(1, 'group'), disable, adopt], 10), {
      safety: SAFETY,
      admins: new Map([['admin-id', ['Global Administrator']]]),
    });
    assert.match(md, /^> \[!WARNING\]$/m);
    assert.match(md, /\*\*1 security group deleted permanently\*\*/);
    assert.match(md, /\*\*disables 1 object\*\*/);
    assert.match(md, /\*\*takes over 1 existing cloud object\*\*/);
    assert.match(md, /\*\*touches 1 admin\*\*/);
    assert.match(md, /boss@corp\.example\*\* ⚠️ \*\*admin\*\* \(Global Administrator\)/);
    assert.match(md, /- `adsyncDeleteAfter` = /, "adsync's extension under its own name");
    assert.doesNotMatch(md, /extension_0123/);
  });

  it('long text gets a word diff, short text old → new', () => {
    const long = 'Responsible for the platform team, the build pipeline and the release process of the product';
    const md = renderMarkdown(planOf([upd(1, long, long.replace('release', 'deployment'))], 1), {});
    assert.match(md, /the \[-release-\]\{\+deployment\+\} process/);
  });
});

describe('markdown at the size of the benchmark forest', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-md-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('the 100k-user plan (100,000 users, 10,000 groups, 1M memberships) renders within 65,536 characters, with the verdict', async () => {
    const plan = await planForest(dir, 100_000, 10_000, 1_000_000);
    assert.ok(
      plan.summary.create > 100_000 && plan.summary.membersAdded > 900_000,
      `a full plan: ${JSON.stringify(plan.summary)}`,
    );
    const md = renderMarkdown(plan, {
      safety: SAFETY,
      specPath: 'infra/adsync.yaml',
      fullPlan: 'https://ci.example/run/1',
    });
    assert.ok(md.length <= GITHUB_COMMENT_LIMIT, `${md.length} characters`);
    assert.match(md, /^### adsync plan for `infra\/adsync\.yaml` → tenant `tid-bench`$/m);
    assert.match(md, /\*\*Guard rails: ✅ within the limits\*\*/);
    assert.match(md, /every change, with every attribute, is in \[the full plan\]\(https:\/\/ci\.example\/run\/1\)/);
    assert.match(md, new RegExp(`\\| ${plan.summary.create.toLocaleString('en-US')} \\|`), 'the counts');
    assert.match(md, /- … and [\d,]+ more \(in the full plan\)/);
    assert.match(
      md,
      /^- ➕ \*\*create\*\* user \*\*[^*]+\*\*\n {2}- `accountEnabled` = `true`$/m,
      'the first changes with their attributes',
    );
    // A smaller limit holds too.
    assert.ok(markdownLines(plan, { safety: SAFETY, maxLength: 10_000 }).join('\n').length < 10_000);
  });

  it('--split: the whole plan of a 2,000-user forest as comments, each within the limit, every change in one of them', async () => {
    const plan = await planForest(dir, 2_000, 200, 10_000);
    const parts = markdownParts(plan, { safety: SAFETY, maxLength: 20_000 });
    assert.ok(parts.length > 2, `${parts.length} parts`);
    for (const [i, p] of parts.entries()) {
      assert.ok(p.length <= 20_000, `part ${i + 1}: ${p.length}`);
      assert.equal(p.split('<details>').length, p.split('</details>').length, `part ${i + 1} closes what it opens`);
      assert.match(p, new RegExp(`^<sub>part ${i + 1} of ${parts.length}</sub>`));
    }
    const all = parts.join('\n');
    const heads = all.match(/^- (➕|✏️|♻️|🤝|🗑️|⏸️|👥) \*\*/gm) ?? [];
    assert.equal(heads.length, plan.changes.length, 'every change');
  });
});
