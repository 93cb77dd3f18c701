import { Args } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { configFlag } from '../cli/flags.js';
import { stateDirOf } from '../cli/locked.js';
import { loadSpec } from '../spec/load.js';
import { openState } from '../state/open.js';
import { unlockLocal, unlockRemote, type Unlocked } from '../state/unlock.js';

export default class UnlockCommand extends AdsyncCommand {
  static override summary = 'Free the apply lock of a run that is gone (naming the run that holds it).';

  static override description = `One apply runs per tenant at a time. A run that was killed (a cancelled pipeline job, a lost runner)
may leave its lock: a lock file in the local state directory, or with \`state: { azureBlob }\` a blob lease,
which frees itself within a minute unless it keeps being renewed. When apply is refused with "held by run
RUN_ID", and you are sure that run is gone, \`adsync unlock RUN_ID\` frees the lock.

Refused unless RUN_ID names the current holder (so a lock taken since by a live run stays), and, for local
state, while that run's process still runs on this host. Then run the apply again: it resumes from the
journal. Unlocking a run that is still writing lets two applies interleave: check first.`;

  static override examples = [
    {
      description: 'Free the lock named in "the state lock in … is held by run 3f9a2c1b (pid 4242 on runner-7 …)"',
      command: '<%= config.bin %> unlock 3f9a2c1b -c adsync.yaml',
    },
    {
      description: 'Then resume the interrupted apply of the saved plan',
      command: '<%= config.bin %> apply -c adsync.yaml plan.json',
    },
  ];

  static override args = {
    run: Args.string({
      description: 'The run id that holds the lock, as apply names it ("held by run RUN_ID").',
      required: true,
    }),
  };

  static override flags = { config: configFlag };

  async run(): Promise<Unlocked> {
    const { args, flags } = await this.parse(UnlockCommand);
    const spec = await loadSpec(flags.config);
    const unlocked =
      spec.state !== undefined && 'azureBlob' in spec.state
        ? await unlockRemote(await openState(spec), args.run)
        : unlockLocal(stateDirOf(spec), args.run);
    if (!this.jsonEnabled())
      process.stdout.write(
        `Unlocked ${unlocked.location}: the lock held by ${unlocked.holder} is free. Run the apply again to resume.\n`,
      );
    return unlocked;
  }
}
