// The demo's outcome: the timings table printed at the end and the summary written into the report.
import type { InterruptionOutcome } from "./interruption.ts";
import { seconds } from "./narrator.ts";
import { replicas } from "./sampleApp.ts";

export interface Timing {
  label: string;
  value: string;
  /** The duration, when the row is one. */
  ms?: number;
}

export interface DemoSummary {
  namespace: string;
  interruptedNode: string;
  replicas: number;
  endedOnSpot: boolean;
  placementRestored: boolean;
  /** Fewest ready endpoints sampled from the drill to the end of the recovery. */
  minReadyEndpoints: number;
  timings: Timing[];
  finalNodes: Record<string, number>;
}

export function summarize(
  outcome: InterruptionOutcome,
  context: { namespace: string; interruptedNode: string },
): DemoSummary {
  const m = outcome.milestones;
  const duration = (label: string, from: number, to: number): Timing => ({
    label,
    value: seconds(to - from),
    ms: to - from,
  });
  const endpoints = (label: string, sampled: { min: number; samples: number }): Timing => ({
    label,
    value: `${sampled.min} of ${replicas} (${sampled.samples} samples)`,
  });
  return {
    namespace: context.namespace,
    interruptedNode: context.interruptedNode,
    replicas,
    endedOnSpot: true,
    placementRestored: outcome.placementRestored,
    minReadyEndpoints: Math.min(outcome.moveMinEndpoints.min, outcome.recoveryMinEndpoints.min),
    timings: [
      duration("drill sent → event received", m.drillSent, m.eventReceived),
      duration("event → flip", m.eventReceived, m.flipped),
      duration("flip → all pods Ready on Fargate", m.flipped, m.readyOnFargate),
      duration("flip → watcher verified healthy", m.flipped, m.healthyOnFargate),
      endpoints("min ready endpoints during the move", outcome.moveMinEndpoints),
      duration("time on Fargate (flip → flip back)", m.flipped, m.flippedBack),
      duration("recovery time (flip back → all Ready on spot)", m.flippedBack, m.recovered),
      endpoints("min ready endpoints during recovery", outcome.recoveryMinEndpoints),
      duration("drill → back on spot", m.drillSent, m.recovered),
    ],
    finalNodes: outcome.finalNodes,
  };
}

export function formatTimings(timings: Timing[]): string {
  const width = Math.max(...timings.map((t) => t.label.length));
  const valueWidth = Math.max(...timings.map((t) => t.value.length));
  const rule = `${"-".repeat(width + 2)}+${"-".repeat(valueWidth + 2)}`;
  return [
    rule,
    ...timings.map((t) => ` ${t.label.padEnd(width)} | ${t.value.padStart(valueWidth)}`),
    rule,
  ].join("\n");
}
