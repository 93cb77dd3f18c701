/** The Clock lives in src/model/clock.ts (targets pace on it too); these names stay for existing imports. */
export { realClock, type Clock } from '../model/clock.js';
