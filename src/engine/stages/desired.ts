/**
 * Stage: desired state. The source snapshots through scope and attribute flows: one DesiredObject per object
 * in scope, the reasons the others are out, and the report items the sources already give.
 */
export { buildDesired as desiredStage, type DesiredState } from '../desired.js';
