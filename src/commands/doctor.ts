import { Flags } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { configFlag } from '../cli/flags.js';
import { runDoctor, DEFAULT_FLOW_ATTRIBUTES } from '../doctor/ldap.js';
import { checkWriteback } from '../doctor/writeback.js';
import type { DoctorReport, Finding } from '../doctor/ldap.js';
import { loadSpec } from '../spec/load.js';
import { checkGraphTarget } from '../doctor/graph.js';

const MARK: Record<Finding['status'], string> = { ok: 'ok     ', warning: 'warning', error: 'error  ' };

export default class DoctorCommand extends AdsyncCommand {
  static override summary =
    "Check each LDAP source against the live directory (TLS, bind, read rights on the scope, the flows' attributes, anchor writeback rights), and the target: token, granted permissions, verified domains, directory extension.";
  static override description = `For every LDAP source of the spec: connects and verifies the domain controller's certificate, binds
with the sync account, checks that the scoped domains are hosted and that every scoped OU and the attributes
the flows read are readable, tells whether ms-DS-ConsistencyGuid exists in the schema and whether the account
may write it (needed for anchor writeback). With writeback rules: the write rights each rule needs where it
needs them (create group objects in a group rule's OU, write ms-DS-ConsistencyGuid or the written-back
attributes on the scoped objects), with the missing delegation as a dsacls line. Each finding is ok, warning or error, with a fix.
Read-only: doctor never writes to the directory. Exit 1 when any finding is an error.`;

  static override examples = [
    { description: 'Check the spec in the current directory', command: '<%= config.bin %> doctor' },
    { description: 'Machine-readable findings', command: '<%= config.bin %> doctor -c adsync.yaml --json' },
  ];

  static override flags = {
    config: configFlag,
    attribute: Flags.string({
      char: 'a',
      description: `An attribute the flows need (repeatable). Default: ${DEFAULT_FLOW_ATTRIBUTES.join(', ')}.`,
      multiple: true,
    }),
  };

  async run(): Promise<DoctorReport> {
    const { flags } = await this.parse(DoctorCommand);
    const spec = await loadSpec(flags.config);
    const report = await runDoctor(
      spec,
      flags.attribute && flags.attribute.length > 0
        ? { attributes: flags.attribute, warn: () => {} }
        : { warn: () => {} },
    );
    // The target (Graph) side: src/doctor/graph.ts.
    const target = await checkGraphTarget(spec);
    report.findings.push(...target);
    report.errors += target.filter((f) => f.status === 'error').length;
    report.warnings += target.filter((f) => f.status === 'warning').length;
    if (spec.writeback.length > 0) {
      // The write rights each writeback rule needs, where it needs them.
      report.findings.push(...(await checkWriteback(spec, { warn: () => {} })));
      report.errors = report.findings.filter((f) => f.status === 'error').length;
      report.warnings = report.findings.filter((f) => f.status === 'warning').length;
    }
    if (!this.jsonEnabled()) {
      for (const f of report.findings) {
        process.stdout.write(`${MARK[f.status]} ${f.source}: ${f.message}\n`);
        if (f.fix && f.status !== 'ok') process.stdout.write(`        fix: ${f.fix}\n`);
      }
      process.stdout.write(`\n${report.errors} error(s), ${report.warnings} warning(s)\n`);
    }
    if (report.errors > 0) process.exitCode = 1;
    return report;
  }
}
