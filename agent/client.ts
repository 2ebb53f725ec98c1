// The agent's view of the master is part of the ground-floor contract (core/contracts/): the
// master implements it over HTTP, local mode in-process, and neither side imports the other.
export type { ClaimedJob, IdleReport, MasterClient, NodeRegistration } from '../core/contracts/index.ts';
