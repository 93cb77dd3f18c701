/**
 * Foreign members resolve as an independent oracle says, over random forests: a resource forest (corp) whose
 * group names principals by SID, and two account forests (fab, nwt) whose users hold SIDs of a small pool (so
 * SIDs repeat across forests) and sit in or out of scope. The oracle, written from the rule alone (Entra Connect
 * joins the principal to the one object with that objectSid; adsync: of another source, synchronized), never
 * imports the engine: a principal is the member iff exactly one user of fab and nwt holds its SID and that user
 * is in scope. Every principal not resolved is a skipped member, once.
 *
 *   ADSYNC_FSP_SEED=<n> ADSYNC_FSP_RUNS=<n> npx node --test dist/test/engine/foreign-principals-pbt.test.js
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildDesired } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import type { SourceSnapshot } from '../../src/model/entry.js';
import { sidToBytes } from '../../src/model/sid.js';
import { entry, group, guid, scope, snapshot, spec } from '../support/fixtures.js';

const SEED = Number(process.env.ADSYNC_FSP_SEED ?? 20261202);
const RUNS = Number(process.env.ADSYNC_FSP_RUNS ?? 200);

const FORESTS = ['fab', 'nwt'] as const;
type Forest = (typeof FORESTS)[number];
const sidOf = (rid: number) => `S-1-5-21-7-8-9-${1000 + rid}`;
const fspDn = (sid: string) => `CN=${sid},CN=ForeignSecurityPrincipals,DC=contoso,DC=example`;

interface Account {
  forest: Forest;
  name: string;
  rid: number;
  inScope: boolean;
}

const worldArb = fc.record({
  accounts: fc.uniqueArray(
    fc.record({
      forest: fc.constantFrom(...FORESTS),
      rid: fc.nat(9),
      inScope: fc.boolean(),
      n: fc.nat(99),
    }),
    { maxLength: 12, selector: (a) => `${a.forest}-${a.n}` },
  ),
  // principals the group names: RIDs of the same pool, each once; some no forest holds
  members: fc.uniqueArray(fc.nat(12), { maxLength: 10 }),
});

/** The oracle: the accounts the group's principals stand for, by `forest:name`. */
function expected(accounts: Account[], members: number[]): { resolved: string[]; skipped: string[] } {
  const resolved: string[] = [];
  const skipped: string[] = [];
  for (const rid of members) {
    const holders = accounts.filter((a) => a.rid === rid);
    if (holders.length === 1 && holders[0]!.inScope) resolved.push(`${holders[0]!.forest}:${holders[0]!.name}`);
    else skipped.push(fspDn(sidOf(rid)));
  }
  return { resolved: resolved.sort(), skipped: skipped.sort() };
}

describe('foreign members resolve as the oracle says (property)', () => {
  it(`over random account forests (seed ${SEED}, ${RUNS} runs)`, () => {
    fc.assert(
      fc.property(worldArb, ({ accounts: raw, members }) => {
        const accounts: Account[] = raw.map((a) => ({ ...a, name: `u${a.n}` }));
        const s = spec();
        for (const name of FORESTS)
          s.sources.push({
            name,
            ldif: { path: `${name}.ldif` },
            anchor: 'ms-ds-consistencyguid',
            scope: scope({ ous: { include: [], exclude: [`OU=Out,DC=${name},DC=example`] } }),
          });
        const snapshots: SourceSnapshot[] = [
          snapshot([
            group(
              'Team',
              members.map((rid) => fspDn(sidOf(rid))),
            ),
          ]),
          ...FORESTS.map((forest) => ({
            source: forest,
            namingContexts: [{ dn: `DC=${forest},DC=example`, dnsName: `${forest}.example` }],
            entries: accounts
              .filter((a) => a.forest === forest)
              .map((a) =>
                entry(`CN=${a.name},OU=${a.inScope ? 'People' : 'Out'},DC=${forest},DC=example`, {
                  objectClass: ['top', 'person', 'organizationalPerson', 'user'],
                  cn: a.name,
                  sAMAccountName: a.name,
                  userPrincipalName: `${a.name}.${forest}@contoso.example`,
                  userAccountControl: '512',
                  objectGUID: guid(`${forest}:${a.name}`),
                  objectSid: sidToBytes(sidOf(a.rid))!,
                }),
              ),
          })),
        ];
        const d = buildDesired(s, snapshots, compileFlows(s));
        const team = d.objects.find((o) => o.label === 'Team');
        assert.ok(team);
        const want = expected(accounts, members);
        assert.deepEqual(
          (team.members ?? []).map((m) => `${m.source}:${m.dn.slice(3, m.dn.indexOf(','))}`).sort(),
          want.resolved,
        );
        assert.deepEqual(
          Object.values(team.skippedMembers ?? {})
            .flat()
            .sort(),
          want.skipped,
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
