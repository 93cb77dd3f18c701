import { Flags } from '@oclif/core';

export const configFlag = Flags.string({
  char: 'c',
  description: 'Path of the adsync spec.',
  default: './adsync.yaml',
  helpValue: 'SPEC',
});
