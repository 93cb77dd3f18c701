import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { AdsyncError } from '../errors.js';
import {
  DEFAULT_ROLES,
  loadFixtures,
  startEmulator,
  type EmulatorFaults,
  type EmulatorOptions,
} from '../emulator/index.js';

export interface EmulatorOutput {
  url: string;
  authorityHost: string;
  tenantId: string;
  initialDomain: string;
  clientId: string;
  statePath?: string;
  certPath?: string;
}

const SAVE_EVERY_MS = 2000;

export default class EmulatorCommand extends AdsyncCommand {
  static override summary =
    'Serve the Microsoft Graph emulator (Graph v1.0 + a token endpoint) over HTTPS on 127.0.0.1.';
  static override description = `A stateful stand-in for Microsoft Entra ID and Microsoft Graph v1.0, for tests, demos and CI:
users, groups, memberships, directory extensions, deleted items, read-only contacts, $select/$filter/$top
paging, $count, delta, $batch, Graph's error bodies, and opt-in faults (throttling, 503/504, replication lag).
--fixture loads a described tenant into a new state: Entra Connect-synced users and groups with their onPremises*
values, memberships, managers, role holders, licences, directory extensions (schemas/emulator-fixture.schema.json).
Clients authenticate with the client-credentials grant at <url>/<tenant>/oauth2/v2.0/token, so the real
@azure/identity code path runs unchanged (with disableInstanceDiscovery).

The certificate is self-signed; write it with --cert-out and trust it with NODE_EXTRA_CA_CERTS.
The client secret is never printed: pass your own with --client-secret, or write the credentials to a file
with --credentials-out. With --state the tenant (objects, certificate, credentials) survives restarts;
it is saved at most every 2 s while it changes, and on Ctrl-C / SIGTERM.`;

  static override examples = [
    {
      description: 'Start with a persisted tenant, write the certificate and the credentials for adsync',
      command:
        '<%= config.bin %> emulator --port 8443 --state tenant.json --tenant contoso.onmicrosoft.com --domain contoso.example --cert-out emulator.pem --credentials-out emulator.env',
    },
    {
      description: 'Then, in another shell, point adsync at it',
      command: 'set -a; . ./emulator.env; set +a; <%= config.bin %> plan -c adsync.yaml',
    },
    {
      description: 'Get a token by hand',
      command:
        'curl --cacert emulator.pem -d grant_type=client_credentials -d client_id=$AZURE_CLIENT_ID --data-urlencode client_secret=$AZURE_CLIENT_SECRET -d scope=https://graph.microsoft.com/.default https://127.0.0.1:8443/$AZURE_TENANT_ID/oauth2/v2.0/token',
    },
    {
      description: 'A client that may manage users but not groups (group writes get 403 Authorization_RequestDenied)',
      command:
        '<%= config.bin %> emulator --roles User.ReadWrite.All,Organization.Read.All,Application.ReadWrite.OwnedBy',
    },
    {
      description:
        'Start a tenant shaped like yours: Entra Connect-synced users and groups, licences, role holders (schemas/emulator-fixture.schema.json)',
      command:
        '<%= config.bin %> emulator --fixture examples/emulator-fixtures/entra-connect-tenant.yaml --tenant contoso.onmicrosoft.com',
    },
    {
      description: 'Exercise retries: throttling, 10% 503/504 and 2 s replication lag, reproducibly',
      command: '<%= config.bin %> emulator --throttle --fail-rate 0.1 --replication-lag 2000 --seed 42',
    },
  ];

  static override flags = {
    port: Flags.integer({ description: 'Port on 127.0.0.1 (0 = any free port).', default: 8443, min: 0, max: 65535 }),
    state: Flags.string({ description: 'State file (JSON): loaded if it exists, saved while running and on exit.' }),
    tenant: Flags.string({
      description: "The tenant's initial domain, e.g. contoso.onmicrosoft.com (new state only).",
    }),
    'tenant-id': Flags.string({ description: 'The tenant id (GUID) for a new state; generated if absent.' }),
    domain: Flags.string({ description: 'An extra verified domain (repeatable).', multiple: true }),
    'client-id': Flags.string({
      description: "The app registration's client id (GUID) for a new state; generated if absent.",
    }),
    'client-secret': Flags.string({
      description: 'A client secret the token endpoint accepts; generated if absent. Prefer --credentials-out.',
    }),
    'cert-out': Flags.string({ description: "Write the emulator's certificate (PEM) here, for NODE_EXTRA_CA_CERTS." }),
    'credentials-out': Flags.string({
      description:
        'Write AZURE_* and ADSYNC_GRAPH_URL variables, including the client secret, to this file (mode 600).',
    }),
    throttle: Flags.boolean({
      description: "Throttle on Graph's resource-unit and write budgets (429 + Retry-After).",
      default: false,
    }),
    'fail-rate': Flags.string({ description: 'Answer this share of requests (0..1) with 503 or 504.' }),
    'replication-lag': Flags.integer({
      description: 'New objects stay invisible to other requests for this many ms.',
      min: 0,
    }),
    fixture: Flags.string({
      description:
        'A tenant fixture (YAML or JSON) to load into a new tenant (repeatable; later files add to earlier ones).',
      multiple: true,
    }),
    seed: Flags.integer({ description: 'Seed for the random faults, to replay a run.' }),
    roles: Flags.string({
      description: `Application permissions granted to the client, i.e. the "roles" of its tokens, enforced with Graph's 403 (comma-separated or repeatable). Default: ${DEFAULT_ROLES.join(', ')}.`,
      multiple: true,
    }),
  };

  async run(): Promise<EmulatorOutput> {
    const { flags } = await this.parse(EmulatorCommand);
    const failRate = flags['fail-rate'] === undefined ? undefined : Number(flags['fail-rate']);
    if (failRate !== undefined && !(failRate >= 0 && failRate <= 1)) {
      throw new AdsyncError('emulator_flag', `--fail-rate must be a number from 0 to 1, not '${flags['fail-rate']}'`, {
        hint: 'e.g. --fail-rate 0.1 for 10%',
      });
    }
    const faults: EmulatorFaults = {};
    if (flags.throttle) faults.throttle = true;
    if (failRate !== undefined) faults.randomFailureRate = failRate;
    if (flags['replication-lag'] !== undefined) faults.replicationLagMs = flags['replication-lag'];
    if (flags.seed !== undefined) faults.seed = flags.seed;
    const options: EmulatorOptions = { port: flags.port, faults };
    if (flags.state) options.statePath = resolve(flags.state);
    if (flags.tenant) options.initialDomain = flags.tenant;
    if (flags['tenant-id']) options.tenantId = flags['tenant-id'];
    if (flags.domain) options.domains = flags.domain;
    if (flags['client-id']) options.clientId = flags['client-id'];
    if (flags['client-secret']) options.clientSecret = flags['client-secret'];
    // Parsed here, before anything starts: a bad fixture is FILE:LINE:COL problems and exit 1.
    if (flags.fixture) options.fixture = await loadFixtures(flags.fixture.map((f) => resolve(f)));
    if (flags.roles)
      options.roles = flags.roles
        .flatMap((r) => r.split(','))
        .map((r) => r.trim())
        .filter((r) => r.length > 0);

    let emu;
    try {
      emu = await startEmulator(options);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const hint = /EADDRINUSE/.test(msg)
        ? `port ${flags.port} is taken: pick another with --port (0 = any free port)`
        : 'check the flags and the state file';
      throw new AdsyncError('emulator_start', `cannot start the emulator: ${msg}`, { hint, cause: e });
    }
    // Listen for Ctrl-C/SIGTERM from here on: a stop right after start-up (e.g. as soon as the certificate
    // file appears) still closes the tenant and prints the result.
    const stopped = new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    const certPath = flags['cert-out'] ? resolve(flags['cert-out']) : undefined;
    if (certPath) await writeFile(certPath, emu.certPem);
    const env: [string, string][] = [
      ['AZURE_TENANT_ID', emu.tenantId],
      ['AZURE_CLIENT_ID', emu.clientId],
      ['AZURE_AUTHORITY_HOST', emu.authorityHost],
      ['ADSYNC_GRAPH_URL', emu.url],
    ];
    if (certPath) env.push(['NODE_EXTRA_CA_CERTS', certPath]);
    if (flags['credentials-out']) {
      const lines = [...env, ['AZURE_CLIENT_SECRET', emu.clientSecret]].map(([k, v]) => `${k}=${v}`);
      await writeFile(resolve(flags['credentials-out']), `${lines.join('\n')}\n`, { mode: 0o600 });
    }

    const out = (s: string): void => {
      if (!this.jsonEnabled()) process.stdout.write(`${s}\n`);
    };
    out(`Graph emulator listening on ${emu.url}  (Graph: ${emu.url}/v1.0)`);
    out(`Tenant ${emu.tenantId}  initial domain ${emu.initialDomain}`);
    out(
      `Token endpoint: ${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token (client_credentials, scope https://graph.microsoft.com/.default)`,
    );
    out('');
    out('Point adsync at it:');
    for (const [k, v] of env) out(`  export ${k}=${v}`);
    if (!certPath) out('  export NODE_EXTRA_CA_CERTS=<file>   # restart with --cert-out FILE to write the certificate');
    if (flags['credentials-out'])
      out(
        `  AZURE_CLIENT_SECRET is in ${flags['credentials-out']} (all of the above too: set -a; . ${flags['credentials-out']}; set +a)`,
      );
    else if (flags['client-secret']) out('  export AZURE_CLIENT_SECRET=<the --client-secret you passed>');
    else
      out(
        `  AZURE_CLIENT_SECRET is not shown: restart with --credentials-out FILE${options.statePath ? '' : ' (and --state FILE to keep it)'} or pass --client-secret`,
      );
    out('  (adsync must create its credential with disableInstanceDiscovery for a non-public authority host)');
    const active = Object.entries(faults)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    if (active) out(`Faults: ${active}`);
    if (options.roles)
      out(`Application permissions (token roles): ${options.roles.length > 0 ? options.roles.join(', ') : 'none'}`);
    out('Ctrl-C to stop' + (options.statePath ? ` (state is saved to ${options.statePath})` : ''));

    const running = emu;
    // Save while dirty, at most every 2 s — and, for a big tenant whose save blocks for a while, no more than
    // ~20% of the time (a save of 100k users and 1M memberships takes a couple of seconds).
    let saving = false;
    let nextSaveAt = 0;
    const timer = options.statePath
      ? setInterval(() => {
          if (saving || !running.isDirty() || Date.now() < nextSaveAt) return;
          saving = true;
          const started = Date.now();
          running
            .save()
            .catch((e: unknown) =>
              process.stderr.write(`emulator: saving state failed: ${e instanceof Error ? e.message : String(e)}\n`),
            )
            .finally(() => {
              saving = false;
              nextSaveAt = Date.now() + 4 * (Date.now() - started);
            });
        }, SAVE_EVERY_MS)
      : undefined;
    await stopped;
    if (timer) clearInterval(timer);
    await running.close();
    out('Emulator stopped' + (options.statePath ? `; state saved to ${options.statePath}` : '') + '.');
    const result: EmulatorOutput = {
      url: emu.url,
      authorityHost: emu.authorityHost,
      tenantId: emu.tenantId,
      initialDomain: emu.initialDomain,
      clientId: emu.clientId,
    };
    if (options.statePath) result.statePath = options.statePath;
    if (certPath) result.certPath = certPath;
    return result;
  }
}
