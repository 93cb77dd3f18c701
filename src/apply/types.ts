/** The apply vocabulary lives in src/model/apply.ts (targets use it too); these names stay for existing imports. */
export type {
  ApplyOptions,
  ApplyResult,
  ChangeOutcome,
  FailedChange,
  SkippedChange,
  WriteBudget,
} from '../model/apply.js';
