import { Flags } from '@oclif/core';

export const configFlag = Flags.string({
  char: 'c',
  description: 'Path of the adsync spec.',
  default: './adsync.yaml',
  helpValue: 'SPEC',
});

/** `--full`: plan/apply read every source and the tenant in full, ignoring the incremental state (and refresh it). */
export const fullReadFlag = Flags.boolean({
  description:
    'Read every source and the tenant in full instead of only the changes since the stored state (the state is then rewritten from what was read).',
  default: false,
});
