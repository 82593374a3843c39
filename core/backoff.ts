// Exponential backoff, the one formula behind every retry wait: the recovery backoff users see, informer
// restarts, SQS receive retries, Slack retries and write retries.

/** Wait after `failures` consecutive failures: base × 2^(failures−1), capped at max; none before the first. */
export function backoff(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(baseMs * 2 ** Math.min(failures - 1, 52), maxMs);
}
