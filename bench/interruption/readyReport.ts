// The ready phase's figures: a table of event → every replica Ready on Fargate beside its floor, and the rows
// (figure, floor, target) of the verdict table.
import { percentile } from "../stats.ts";
import type { Row } from "../verdicts.ts";
import type { ReadyPhaseResult, ReadySizeResult } from "./readyPhase.ts";
import type { ReadyRunResult } from "./readyRun.ts";

/** One size's figures in milliseconds from the send; over several runs, the median run's of each. */
export interface ReadyFigures {
  n: number;
  runs: number;
  pods: number;
  /** Over the Deployments: when half, and when all, had every replica Ready on Fargate. */
  readyP50: number;
  readyAll: number;
  /** The same for their floors: one patch + the longest the emulator held one of the Deployment's pods. */
  floorP50: number;
  floorAll: number;
  /** The watcher's verdict, rollout=healthy. */
  verdictP50: number;
  verdictAll: number;
  flip: number;
  largestStartup: number;
  gatedPods: number;
  lastRelease: number | undefined;
}

const max = (values: number[]) => Math.max(...values);

function runFigures(r: ReadyRunResult): Omit<ReadyFigures, "n" | "runs"> {
  return {
    pods: r.fargatePods,
    readyP50: percentile(r.readyMs, 0.5),
    readyAll: max(r.readyMs),
    floorP50: r.patchMs + percentile(r.emulatorMs, 0.5),
    floorAll: r.patchMs + max(r.emulatorMs),
    verdictP50: percentile(r.verdictMs, 0.5),
    verdictAll: max(r.verdictMs),
    flip: r.flipMs,
    largestStartup: r.largestStartupMs,
    gatedPods: r.gatedPods,
    lastRelease: r.lastReleaseMs,
  };
}

export function readyFigures(size: ReadySizeResult): ReadyFigures {
  const each = size.runs.map(runFigures);
  const median = (pick: (f: Omit<ReadyFigures, "n" | "runs">) => number) => percentile(each.map(pick), 0.5);
  const released = each.flatMap((f) => (f.lastRelease === undefined ? [] : [f.lastRelease]));
  return {
    n: size.n,
    runs: each.length,
    pods: median((f) => f.pods),
    readyP50: median((f) => f.readyP50),
    readyAll: median((f) => f.readyAll),
    floorP50: median((f) => f.floorP50),
    floorAll: median((f) => f.floorAll),
    verdictP50: median((f) => f.verdictP50),
    verdictAll: median((f) => f.verdictAll),
    flip: median((f) => f.flip),
    largestStartup: median((f) => f.largestStartup),
    gatedPods: median((f) => f.gatedPods),
    lastRelease: released.length > 0 ? percentile(released, 0.5) : undefined,
  };
}

const s = (ms: number | undefined, width = 7) =>
  (ms === undefined ? "-" : (ms / 1000).toFixed(1)).padStart(width);

export function readyTable(phase: ReadyPhaseResult): string {
  const { startup } = phase;
  const lines = [
    "event sent → every replica of every Deployment Ready on Fargate (Ready, not terminating, on a node",
    `labelled eks.amazonaws.com/compute-type=fargate), seconds; Fargate start-up ${s(startup.meanMs, 0)} ± ` +
      `${s(startup.jitterMs, 0)} s, ${phase.replicas} replica(s) each`,
    "    N  runs  pods │ Ready p50   all │ floor p50   all │ all/floor │ verdict p50   all │ flipped │ " +
      "start-up max │ gated, last lifted",
  ];
  for (const f of phase.sizes.map(readyFigures)) {
    lines.push(
      `${String(f.n).padStart(5)} ${String(f.runs).padStart(5)} ${String(f.pods).padStart(5)} │ ` +
        `${s(f.readyP50, 9)} ${s(f.readyAll, 5)} │ ${s(f.floorP50, 9)} ${s(f.floorAll, 5)} │ ` +
        `${`${(f.readyAll / f.floorAll).toFixed(2)}×`.padStart(9)} │ ${s(f.verdictP50, 11)} ${s(f.verdictAll, 5)} │ ` +
        `${s(f.flip)} │ ${s(f.largestStartup, 12)} │ ${String(f.gatedPods).padStart(5)}, ${s(f.lastRelease, 5)} s`,
    );
  }
  lines.push(
    "Ready p50/all: over the Deployments, send → the moment a watch of the pods saw all its replicas Ready on",
    "  Fargate (all = the last Deployment = the max).",
    "floor: one merge patch from a bare client (the flip's one write) + the longest the Fargate emulator held",
    "  one of the Deployment's new pods: its wait behind the launch gate (over 20 launches a second, burst 20)",
    "  + the start-up it drew for it (binding → Ready); p50 and all over the Deployments as for Ready.",
    "verdict: send → the watcher's rollout=healthy on the Deployment (it polls every " +
      `${s(phase.checkIntervalMs, 0)} s and verifies ${s(phase.verificationDelayMs, 0)} s after the rollout).`,
    "flipped: send → the last compute=fargate stored; start-up max: the largest start-up drawn for the run's",
    "  pods; gated: pods that waited for a launch, and when the last gate was lifted (from the send).",
  );
  return lines.join("\n");
}

/**
 * Every replica Ready, held to its floor plus one check interval: between the flip and Ready the watcher
 * does nothing on the path (the surge has every replacement created at once), so beyond the floor there is
 * only the flip itself (its own rows hold it to its floor) and Kubernetes creating and binding the pods; a
 * check interval is the resolution at which the watcher follows a move at all, and more than that over the
 * floor would mean the replacements were not all started at once.
 * The verdict, held to the floor plus two check intervals and the verification delay: the follow-up sees the
 * rollout complete at its first poll after the last pod is Ready (one interval at most), waits the
 * verification delay, then checks health; the second interval covers the Deployment's status catching up
 * with its pods (the controllers' writes after the last Ready) and the flip, so a poll can just miss it.
 */
export function readyRows(phase: ReadyPhaseResult): Row[] {
  const { checkIntervalMs, verificationDelayMs } = phase;
  const check = s(checkIntervalMs, 0);
  return phase.sizes.map(readyFigures).flatMap((f) => {
    const runs = f.runs > 1 ? `, p50 of ${f.runs} runs` : "";
    return [
      {
        figure: `event → ${f.n} Deployments' ${f.pods} replicas Ready on Fargate${runs}`,
        value: f.readyAll / 1000,
        unit: "s",
        floor: f.floorAll / 1000,
        target: { text: `≤ floor + ${check} s check`, limit: (f.floorAll + checkIntervalMs) / 1000 },
      },
      {
        figure: `event → ${f.n} rollout=healthy (the watcher's verdict)${runs}`,
        value: f.verdictAll / 1000,
        unit: "s",
        floor: f.floorAll / 1000,
        target: {
          text: `≤ floor + 2 × ${check} s check + ${s(verificationDelayMs, 0)} s verification`,
          limit: (f.floorAll + 2 * checkIntervalMs + verificationDelayMs) / 1000,
        },
      },
    ];
  });
}
