// The interruption benchmark's figures: a detailed table of the runs, and the rows (figure, floor, target) of
// the verdict table.
import type { Row } from "../verdicts.ts";
import { summarize, type Summary } from "../stats.ts";
import type { RunResult } from "./interruptionRun.ts";
import type { MemoryResult, MemorySample } from "./memoryPhase.ts";

export interface SizeResult {
  n: number;
  runs: RunResult[];
  watcher: Summary;
  watcherHistogram: Summary;
  /** Send → the watcher's first flip (finding the Deployments), and first → last flip (patching them). */
  toFirstFlip: Summary | undefined;
  firstToLastFlip: Summary | undefined;
  /** The N patches all at once from a bare client: the floor. */
  floor: Summary;
  /** The N patches one after another (client-node), for reference. */
  sequentialFloor: Summary;
}

export function sizeResult(n: number, runs: RunResult[]): SizeResult {
  const logged = runs.filter((r) => r.firstFlipLogMs !== undefined && r.lastFlipLogMs !== undefined);
  return {
    n,
    runs,
    watcher: summarize(runs.map((r) => r.watcherMs)),
    watcherHistogram: summarize(runs.map((r) => r.watcherHistogramMs)),
    toFirstFlip: logged.length > 0 ? summarize(logged.map((r) => r.firstFlipLogMs!)) : undefined,
    firstToLastFlip:
      logged.length > 0 ? summarize(logged.map((r) => r.lastFlipLogMs! - r.firstFlipLogMs!)) : undefined,
    floor: summarize(runs.map((r) => r.floorMs)),
    sequentialFloor: summarize(runs.map((r) => r.sequentialFloorMs)),
  };
}

const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(0)).padStart(7);

export function latencyTable(sizes: SizeResult[], sqs: Summary): string {
  const lines = [
    "event sent → all N Deployments flipped (compute=fargate stored), milliseconds",
    "    N  runs │ watcher p50     p99 │   floor p50     p99 │ sequential p50 │ " +
      "watcher's histogram p50 │ send→1st flip p50 │ 1st→last flip p50",
  ];
  for (const s of sizes) {
    lines.push(
      `${String(s.n).padStart(5)} ${String(s.watcher.runs).padStart(5)} │ ` +
        `${ms(s.watcher.p50).padStart(11)} ${ms(s.watcher.p99)} │ ${ms(s.floor.p50).padStart(11)} ${ms(s.floor.p99)} │ ` +
        `${ms(s.sequentialFloor.p50).padStart(14)} │ ${ms(s.watcherHistogram.p50).padStart(23)} │ ` +
        `${ms(s.toFirstFlip?.p50).padStart(17)} │ ${ms(s.firstToLastFlip?.p50).padStart(17)}`,
    );
  }
  lines.push(
    `SQS receive (send → a waiting long poll's answer, bare SDK client): p50 ${sqs.p50.toFixed(0)} ms, ` +
      `p99 ${sqs.p99.toFixed(0)} ms (${sqs.runs} messages)`,
    "p99 is the nearest-rank 99th percentile: with fewer than 100 runs it is the slowest run.",
    "floor: the N merge patches of the same annotations sent all at once by a bare client over kept-alive",
    "  connections, through the same webhook; sequential: the same one after another with client-node.",
    "watcher's histogram: spot_orchestrator_event_to_flip_seconds (message received → last flip stored).",
    "send→1st flip and 1st→last flip: from the watcher's log lines (finding the Deployments, then patching them).",
  );
  return lines.join("\n");
}

/** Event → all flipped, held to the floor: 1.1 × the floor plus the SQS receive for one, 1.25 × for more. */
export function latencyRows(sizes: SizeResult[], sqs: Summary): Row[] {
  return sizes.map((s) => {
    const one = s.n === 1;
    const limit = one ? 1.1 * s.floor.p50 + sqs.p50 : 1.25 * s.floor.p50;
    return {
      figure: `event → ${s.n} flipped, p50 (${s.watcher.runs} runs)`,
      value: s.watcher.p50,
      unit: "ms",
      floor: one ? s.floor.p50 + sqs.p50 : s.floor.p50,
      target: { text: one ? "≤ 1.1 × patch + SQS receive" : "≤ 1.25 × floor", limit },
    };
  });
}

const mib = (m: MemorySample) =>
  `RSS ${m.rssMiB.toFixed(1)} MiB (peak ${m.peakMiB.toFixed(1)}, V8 heap used ${m.heapUsedMiB.toFixed(1)})`;

export function memoryLines(m: MemoryResult): string {
  const { load } = m;
  return [
    "watcher memory (VmRSS from /proc, median of 5 readings 1 s apart; peak = VmHWM)",
    `  small   ${m.baseline.nodes} nodes / ${m.baseline.pods} pods, idle:        ${mib(m.baseline.idle)}`,
    `          after one interruption (10 Deployments):  ${mib(m.baseline.afterEvent)}`,
    `  loaded  ${m.loaded.nodes} nodes / ${m.loaded.pods} pods, idle:   ${mib(m.loaded.idle)}`,
    `          after one interruption (10 Deployments):  ${mib(m.loaded.afterEvent)}`,
    `          a watcher started in it, idle:            ${mib(m.restarted.idle)}`,
    `  flip of 10 Deployments: ${m.flips.baseline.watcherMs.toFixed(0)} ms small cluster, ` +
      `${m.flips.loaded.watcherMs.toFixed(0)} ms loaded`,
    `  load: ${load.nodesCreated} nodes in ${load.nodesSeconds.toFixed(1)} s, ${load.podsCreated} pods in ` +
      `${load.podsSeconds.toFixed(1)} s, all nodes Ready after ` +
      `${load.nodesReadySeconds === undefined ? "(not within the budget)" : `${load.nodesReadySeconds.toFixed(1)} s`}` +
      `${load.cutShort ? " — time budget ran out, fewer objects than asked" : ""}; ` +
      `deleted in ${m.cleanupSeconds.toFixed(1)} s`,
  ].join("\n");
}

/** Idle memory small and loaded, and start → leading with a warm index, small and loaded. */
export function memoryRows(m: MemoryResult): Row[] {
  const loaded = `${m.loaded.nodes.toLocaleString("en-US")} nodes / ${m.loaded.pods.toLocaleString("en-US")} pods`;
  return [
    {
      figure: `watcher idle RSS, ${m.baseline.nodes} nodes / ${m.baseline.pods} pods`,
      value: m.baseline.idle.rssMiB,
      unit: "MiB",
      target: { text: "≤ 120 MiB", limit: 120 },
    },
    {
      figure: `watcher idle RSS, ${loaded}`,
      value: Math.max(m.loaded.idle.rssMiB, m.restarted.idle.rssMiB),
      unit: "MiB",
      target: { text: "≤ 200 MiB", limit: 200 },
    },
    {
      figure: "watcher start → leading, warm index, small",
      value: m.baseline.startMs,
      unit: "ms",
    },
    {
      figure: `watcher start → leading, warm index, ${loaded}`,
      value: m.restarted.startMs,
      unit: "ms",
      target: { text: "≤ 10 s", limit: 10_000 },
    },
  ];
}
