// The benchmark's figures as a table for people and a JSON document for tools.
import type { RunResult } from "./interruptionRun.ts";
import type { MemoryResult, MemorySample } from "./memoryPhase.ts";
import { summarize, type Summary } from "../stats.ts";

export interface SizeResult {
  n: number;
  runs: RunResult[];
  watcher: Summary;
  watcherHistogram: Summary;
  /** Send → the watcher's first flip (finding the Deployments), and first → last flip (patching them). */
  toFirstFlip: Summary | undefined;
  firstToLastFlip: Summary | undefined;
  floor: Summary;
  keepAliveFloor: Summary;
  ratioP50: number;
  ratioP99: number;
}

export function sizeResult(n: number, runs: RunResult[]): SizeResult {
  const watcher = summarize(runs.map((r) => r.watcherMs));
  const floor = summarize(runs.map((r) => r.floorMs));
  const logged = runs.filter((r) => r.firstFlipLogMs !== undefined && r.lastFlipLogMs !== undefined);
  return {
    n,
    runs,
    watcher,
    watcherHistogram: summarize(runs.map((r) => r.watcherHistogramMs)),
    toFirstFlip: logged.length > 0 ? summarize(logged.map((r) => r.firstFlipLogMs!)) : undefined,
    firstToLastFlip:
      logged.length > 0 ? summarize(logged.map((r) => r.lastFlipLogMs! - r.firstFlipLogMs!)) : undefined,
    floor,
    keepAliveFloor: summarize(runs.map((r) => r.keepAliveFloorMs)),
    ratioP50: watcher.p50 / floor.p50,
    ratioP99: watcher.p99 / floor.p99,
  };
}

const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(0)).padStart(7);

export function latencyTable(sizes: SizeResult[]): string {
  const lines = [
    "event sent → all N Deployments flipped (compute=fargate stored), milliseconds",
    "    N  runs │ watcher p50     p99 │   floor p50     p99 │ watcher/floor p50   p99 │ " +
      "watcher's histogram p50 │ send→1st flip p50 │ 1st→last flip p50 │ keep-alive floor p50",
  ];
  for (const s of sizes) {
    lines.push(
      `${String(s.n).padStart(5)} ${String(s.watcher.runs).padStart(5)} │ ` +
        `${ms(s.watcher.p50).padStart(11)} ${ms(s.watcher.p99)} │ ${ms(s.floor.p50).padStart(11)} ${ms(s.floor.p99)} │ ` +
        `${s.ratioP50.toFixed(2).padStart(17)} ${s.ratioP99.toFixed(2).padStart(5)} │ ` +
        `${ms(s.watcherHistogram.p50).padStart(23)} │ ${ms(s.toFirstFlip?.p50).padStart(17)} │ ` +
        `${ms(s.firstToLastFlip?.p50).padStart(17)} │ ${ms(s.keepAliveFloor.p50).padStart(20)}`,
    );
  }
  lines.push(
    "p99 is the nearest-rank 99th percentile: with fewer than 100 runs it is the slowest run.",
    "floor: N sequential merge patches of the same annotations from this process, through the same webhook.",
    "watcher's histogram: spot_orchestrator_event_to_flip_seconds (message received → last flip stored).",
    "send→1st flip and 1st→last flip: from the watcher's log lines (finding the Deployments, then patching them).",
    "keep-alive floor: the floor's patches over one kept-alive connection instead of client-node (comparison only).",
  );
  const hundred = sizes.find((s) => s.n === 100);
  if (hundred) {
    const verdict = hundred.watcher.p99 < 1000 ? "met" : "missed";
    lines.push(
      `target 100 Deployments flipped in under 1 s: ${verdict} (p50 ${hundred.watcher.p50.toFixed(0)} ms, ` +
        `p99 ${hundred.watcher.p99.toFixed(0)} ms)`,
    );
  }
  return lines.join("\n");
}

const mib = (m: MemorySample) =>
  `RSS ${m.rssMiB.toFixed(1)} MiB (peak ${m.peakMiB.toFixed(1)}, V8 heap used ${m.heapUsedMiB.toFixed(1)})`;

export function memoryLines(m: MemoryResult): string {
  const ratio = (x: MemorySample) => (x.rssMiB / m.baseline.idle.rssMiB).toFixed(2);
  const { load } = m;
  return [
    "watcher memory (VmRSS from /proc, median of 5 readings 1 s apart; peak = VmHWM)",
    `  baseline  ${m.baseline.nodes} nodes / ${m.baseline.pods} pods, idle:         ${mib(m.baseline.idle)}`,
    `            after one interruption (10 Deployments):  ${mib(m.baseline.afterEvent)}  ×${ratio(m.baseline.afterEvent)}`,
    `  loaded    ${m.loaded.nodes} nodes / ${m.loaded.pods} pods, idle:    ${mib(m.loaded.idle)}  ×${ratio(m.loaded.idle)}`,
    `            after one interruption (10 Deployments):  ${mib(m.loaded.afterEvent)}  ×${ratio(m.loaded.afterEvent)}`,
    `  flip of 10 Deployments: ${m.flips.baseline.watcherMs.toFixed(0)} ms small cluster, ` +
      `${m.flips.loaded.watcherMs.toFixed(0)} ms loaded`,
    `  load: ${load.nodesCreated} nodes in ${load.nodesSeconds.toFixed(1)} s, ${load.podsCreated} pods in ` +
      `${load.podsSeconds.toFixed(1)} s, all nodes Ready after ` +
      `${load.nodesReadySeconds === undefined ? "(not within the budget)" : `${load.nodesReadySeconds.toFixed(1)} s`}` +
      `${load.cutShort ? " — time budget ran out, fewer objects than asked" : ""}; ` +
      `deleted in ${m.cleanupSeconds.toFixed(1)} s`,
  ].join("\n");
}
