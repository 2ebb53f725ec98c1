/**
 * Long-poll claims (docs/api.md, `POST /api/v1/jobs/claim?wait_s=N`): the master holds a claim
 * that found nothing for up to N seconds until a job appears. Shared by the master (the bound
 * it accepts) and the agent (its default and the bound of --claim-wait-s).
 */

/** Longest wait the master accepts; a larger `wait_s` is 400. */
export const MAX_CLAIM_WAIT_S = 60;

/** The agent's default `--claim-wait-s`: well under the master's default node_timeout_s (90). */
export const DEFAULT_CLAIM_WAIT_S = 20;
