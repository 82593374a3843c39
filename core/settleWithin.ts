// Waiting for work to finish, but not for ever.
import { setTimeout as sleep } from "node:timers/promises";

/** Resolves true once every promise has settled, or false after `timeoutMs`, whichever comes first. */
export async function settleWithin(work: Promise<unknown>[], timeoutMs: number): Promise<boolean> {
  const timeout = new AbortController();
  const allDone = Promise.allSettled(work).then(() => true);
  const timedOut = sleep(timeoutMs, false, { signal: timeout.signal }).catch(() => false);
  try {
    return await Promise.race([allDone, timedOut]);
  } finally {
    timeout.abort();
  }
}
