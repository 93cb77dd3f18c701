import { Flags } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { SpecError, type SpecProblem } from '../errors.js';
import { ignoredSettingsOf } from '../spec/ignored-settings.js';
import { loadSpec } from '../spec/load.js';
import type { Spec } from '../spec/types.js';

/** What `adsync validate --json` prints. */
export interface ValidateResult {
  valid: boolean;
  /** The spec path as given with -c. */
  file: string;
  problems: SpecProblem[];
  /**
   * What is valid but likely wrong: a scope rule that can match nothing, a setting adsync will not use (e.g.
   * ldap.baseDn when the scope names OUs). Sorted by line and column.
   */
  warnings?: SpecProblem[];
}

export default class Validate extends AdsyncCommand {
  static override summary = 'Check a spec: YAML, schema and semantic rules, with every problem at once.';

  static override description = `Reads the spec (default ./adsync.yaml), validates it against schemas/adsync.schema.json and the semantic rules (unique source names, valid DNs, RFC 4515 scope filters, CEL flow expressions, writable Graph properties, known applications) and prints every problem as FILE:LINE:COL message.
Needs no credentials and reaches no server: secrets are checked to be references, not resolved.
Exit code 0 when the spec is valid, 1 when it is not.`;

  static override examples = [
    { description: 'Validate ./adsync.yaml.', command: '<%= config.bin %> <%= command.id %>' },
    {
      description: 'Validate another spec.',
      command: '<%= config.bin %> <%= command.id %> -c examples/quickstart/adsync.yaml',
    },
    {
      description: 'Print the result as JSON ({ valid, file, problems, warnings }).',
      command: '<%= config.bin %> <%= command.id %> -c adsync.yaml --json',
    },
  ];

  static override flags = {
    config: Flags.string({ char: 'c', description: 'Path of the spec file.', default: './adsync.yaml' }),
  };

  async run(): Promise<ValidateResult> {
    const { flags } = await this.parse(Validate);
    const file = flags.config;
    let spec: Spec;
    try {
      spec = await loadSpec(file);
    } catch (err) {
      // --json: the typed result, not an error envelope. Otherwise the base command prints FILE:LINE:COL lines.
      if (err instanceof SpecError && this.jsonEnabled()) {
        process.exitCode = 1;
        return { valid: false, file, problems: err.problems };
      }
      throw err;
    }
    // Both kinds of warning (rules a valid spec breaks softly, settings it holds that adsync won't use), in one
    // order and one format, as plan says them: `Warning: FILE:LINE:COL message`.
    const warnings = [...(spec.warnings ?? []), ...(await ignoredSettingsOf(file))].sort(
      (a, b) => a.line - b.line || a.col - b.col || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
    );
    if (!this.jsonEnabled())
      for (const w of warnings) process.stderr.write(`Warning: ${w.file}:${w.line}:${w.col} ${w.message}\n`);
    const n = spec.sources.length;
    this.log(`${file}: valid (${n} source${n === 1 ? '' : 's'}, target ${describeTarget(spec)})`);
    return { valid: true, file, problems: [], ...(warnings.length > 0 ? { warnings } : {}) };
  }
}

function describeTarget(spec: Spec): string {
  if (spec.target.emulator) return `emulator ${spec.target.emulator.tenant}`;
  const entra = spec.target.entra;
  if (entra) {
    const tenant = typeof entra.tenantId === 'string' ? entra.tenantId : `$${entra.tenantId.env}`;
    return `entra ${tenant}`;
  }
  return 'none';
}
