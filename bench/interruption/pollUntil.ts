// Like the tests' waitFor, except that an error thrown by the probe fails at once (a dead watch or a
// denied request will not get better by waiting out the timeout).
import { setTimeout as sleep } from "node:timers/promises";

export async function pollUntil(
  description: string,
  probe: () => boolean | Promise<boolean>,
  { timeoutMs, intervalMs = 100 }: { timeoutMs: number; intervalMs?: number },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(intervalMs);
  }
}
