// What the watcher says about itself: its metrics (flip histogram, flip counter, leadership) and the
// times of its "compute flipped" log lines, which split a flip into finding the Deployments and patching them.
import { readFile } from "node:fs/promises";
import { metricValue } from "../../harness/stack/stack.ts";
import { pollUntil } from "./pollUntil.ts";

export interface WatcherCounters {
  /** spot_orchestrator_event_to_flip_seconds: sum and count. */
  eventToFlipSum: number;
  eventToFlipCount: number;
  flipped: number;
}

export async function metricsText(healthPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`watcher /metrics answered ${res.status}`);
  return res.text();
}

export async function watcherCounters(healthPort: number): Promise<WatcherCounters> {
  const text = await metricsText(healthPort);
  return {
    eventToFlipSum: metricValue(text, "spot_orchestrator_event_to_flip_seconds_sum"),
    eventToFlipCount: metricValue(text, "spot_orchestrator_event_to_flip_seconds_count"),
    flipped: metricValue(text, "spot_orchestrator_deployments_flipped_total", { compute: "fargate" }),
  };
}

export async function waitForLeadership(healthPort: number, timeoutMs = 60_000): Promise<void> {
  await pollUntil(
    "the watcher to hold the leader Lease",
    async () => metricValue(await metricsText(healthPort), "spot_orchestrator_is_leader") === 1,
    { timeoutMs, intervalMs: 250 },
  );
}

/** Epoch ms of the first and last "compute flipped to fargate" line for these Deployments. */
export async function flipLogTimes(
  logFile: string,
  deployments: readonly string[],
): Promise<{ first: number; last: number } | undefined> {
  const names = new Set(deployments);
  const times: number[] = [];
  for (const line of (await readFile(logFile, "utf8")).split("\n")) {
    if (!line.includes("compute flipped to fargate")) continue;
    try {
      const entry = JSON.parse(line) as { name?: string; time?: string };
      if (entry.name !== undefined && names.has(entry.name) && entry.time) times.push(Date.parse(entry.time));
    } catch {
      // a line cut by a concurrent write: not one of ours to time
    }
  }
  return times.length === 0 ? undefined : { first: Math.min(...times), last: Math.max(...times) };
}
