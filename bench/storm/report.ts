// The storm's figures: a table of the watcher's run beside the floor's, the verdict rows (figure, floor,
// target) and the checks of what the storm did to the Deployments.
import { percentile, summarize, type Summary } from "../stats.ts";
import type { Row } from "../verdicts.ts";
import { topKinds } from "./apiserverRequests.ts";
import type { FloorResult } from "./floorStorm.ts";
import type { StormMode } from "./schedule.ts";
import type { WatcherStormResult } from "./watcherStorm.ts";

export interface StormReport {
  mode: StormMode;
  floor: FloorResult;
  /** The run on paused Deployments: the flips alone. */
  flips: WatcherStormResult;
  /** The run with the moves rolling onto Fargate, when there was one. */
  ready: (WatcherStormResult & { floorAllReadyMs: number; readyFloorMs: number[] }) | undefined;
}

const ms = (value: number | undefined, width = 8) =>
  (value === undefined ? "-" : value.toFixed(0)).padStart(width);
const s = (value: number | undefined, width = 8) =>
  (value === undefined ? "-" : (value / 1000).toFixed(1)).padStart(width);
const trio = (x: Summary, f = ms) => `${f(x.p50)} ${f(x.p99)} ${f(x.max)}`;

function perSecond(requests: number, windowMs: number): number {
  return requests / (windowMs / 1000);
}

export function stormTable(report: StormReport, header: string): string {
  const { floor, flips, ready } = report;
  const lines = [
    header,
    "                                          │      p50      p99      max │  last flip  queue empty",
    `warning → compute=fargate, watcher, ms   │ ${trio(summarize(flips.flipMs))} │ ${ms(flips.lastFlipMs, 10)} ${ms(flips.queueEmptyMs, 12)}`,
    `                            floor, ms     │ ${trio(summarize(floor.flipMs))} │ ${ms(floor.lastFlipMs, 10)}`,
    `           floor's patch answered, ms     │ ${trio(summarize(floor.answerMs))} │`,
  ];
  if (ready) {
    lines.push(
      `while rolling onto Fargate, watcher, ms  │ ${trio(summarize(ready.flipMs))} │ ${ms(ready.lastFlipMs, 10)} ${ms(ready.queueEmptyMs, 12)}`,
      `warning → all replicas Ready, watcher, s │ ${trio(summarize(ready.readyMs ?? []), s)} │ all ${s(ready.allReadyMs, 6)}`,
      `                            floor, s      │ ${trio(summarize(ready.readyFloorMs), s)} │ all ${s(ready.floorAllReadyMs, 6)}`,
      `the moves' ${ready.flipMs.length} new pods were all created ${s(ready.lastPodCreatedMs, 0)} s after the first warning ` +
        "(by the Deployment controller, whose client is paced: kube-controller-manager's --kube-api-qps, 20 by default)",
    );
  }
  lines.push(...useLines("flip run", flips), ...(ready ? useLines("ready run", ready) : []));
  lines.push(
    `floor: ${floor.requests} requests, ${perSecond(floor.requests, floor.lastFlipMs).toFixed(0)}/s over its ` +
      `${(floor.lastFlipMs / 1000).toFixed(1)} s, ${floor.cpuSeconds.toFixed(2)} CPU s in the bare client`,
    "warning → compute=fargate: from the moment the Deployment's node's warning was sent (the floor: its patch)",
    "  until a watch of the Deployments saw it stored; p99 is the nearest rank (the max under 100 Deployments).",
    "floor: one merge patch of the watcher's annotations per Deployment, each node's all at once at its",
    "  warning's moment, from a bare client over kept-alive connections, through the same webhook.",
    "requests: the apiserver's apiserver_flowcontrol_dispatched_requests_total for a FlowSchema matching only the",
    "  watcher's ServiceAccount (apiserver_request_total has no label for the requester); all clients for scale.",
  );
  return lines.join("\n");
}

function useLines(label: string, run: WatcherStormResult): string[] {
  const { use, requests, windowMs } = run;
  return [
    `${label}: watcher ${requests.flowSchema} requests in ${(windowMs / 1000).toFixed(1)} s ` +
      `(${perSecond(requests.flowSchema, windowMs).toFixed(0)}/s; every client: ${requests.all}), ` +
      `${use.cpuSeconds.toFixed(2)} CPU s, RSS ${use.startRssMiB.toFixed(1)} → max ${use.maxRssMiB.toFixed(1)} MiB ` +
      `(VmHWM ${use.peakMiB.toFixed(1)}; V8 heap used at most ${use.maxHeap.heapUsedMiB.toFixed(1)}, external ` +
      `${use.maxHeap.externalMiB.toFixed(1)}; settled after: RSS ${run.settledRssMiB.toFixed(1)}, heap ` +
      `${run.heapAfter.heapUsedMiB.toFixed(1)}); its counters: ${run.flipsCounted} flips, ${run.eventsHandled} events handled`,
    `  every client's requests in that window by kind: ${topKinds(requests)}`,
  ];
}

/** Every target flipped once with this storm's record; nothing else touched. */
export function checkLines(label: string, run: WatcherStormResult, targets: number): string[] {
  const { notOnce, wrongRecord, touched } = run.verdict;
  const first = (list: string[]) =>
    list.length > 0 ? `: ${list.slice(0, 5).join("; ")}${list.length > 5 ? "; ..." : ""}` : "";
  return [
    `${label}: ${targets - notOnce.length} of ${targets} targets flipped exactly once${first(notOnce)}`,
    `${label}: ${wrongRecord.length} with another reason or interrupted-node${first(wrongRecord)}`,
    `${label}: ${touched.length} other Deployments touched${first(touched)}`,
  ];
}

export function stormRows(report: StormReport): Row[] {
  const { ready } = report;
  return [...flipRows(report), ...(ready ? readyRows(ready) : [])];
}

/** The flip run against the floor, the watcher's memory against its target, and the checks. */
function flipRows({ floor, flips, ready, mode }: StormReport): Row[] {
  const n = flips.flipMs.length;
  const watcher = summarize(flips.flipMs);
  const floorFlips = summarize(floor.flipMs);
  return [
    {
      figure: `${mode.kind}: warning → compute=fargate, p99 of ${n} Deployments`,
      value: watcher.p99,
      unit: "ms",
      floor: floorFlips.p99,
      target: mode.kind === "burst" ? { text: "≤ 1.5 × floor", limit: 1.5 * floorFlips.p99 } : undefined,
    },
    {
      figure: `${mode.kind}: warning → compute=fargate, p50`,
      value: watcher.p50,
      unit: "ms",
      floor: floorFlips.p50,
    },
    {
      figure: "watcher requests/s to the apiserver, flip run",
      value: perSecond(flips.requests.flowSchema, flips.windowMs),
      unit: "/s",
      floor: perSecond(floor.requests, floor.lastFlipMs),
    },
    {
      figure: "watcher requests per flipped Deployment, flip run",
      value: flips.requests.flowSchema / n,
      unit: "",
      floor: 1,
    },
    { figure: "watcher CPU, flip run", value: flips.use.cpuSeconds, unit: "s", floor: floor.cpuSeconds },
    {
      figure: "watcher peak RSS (VmHWM)",
      value: Math.max(flips.use.peakMiB, ready?.use.peakMiB ?? 0),
      unit: "MiB",
      floor: flips.use.startRssMiB,
      target: { text: "≤ 200 MiB", limit: 200 },
    },
    ...checkRows("flip run", flips, n),
  ];
}

/** The ready run: every replica Ready against its floor, the watcher's load, and the checks. */
function readyRows(ready: NonNullable<StormReport["ready"]>): Row[] {
  const n = ready.flipMs.length;
  return [
    {
      figure: `warning → every replica of ${n} Deployments Ready on Fargate`,
      value: (ready.allReadyMs ?? NaN) / 1000,
      unit: "s",
      floor: ready.floorAllReadyMs / 1000,
    },
    {
      figure: "warning → Ready on Fargate, p50 of the Deployments",
      value: percentile(ready.readyMs ?? [], 0.5) / 1000,
      unit: "s",
      floor: percentile(ready.readyFloorMs, 0.5) / 1000,
    },
    {
      figure: "watcher requests/s to the apiserver, ready run",
      value: perSecond(ready.requests.flowSchema, ready.windowMs),
      unit: "/s",
    },
    { figure: "watcher CPU, ready run", value: ready.use.cpuSeconds, unit: "s" },
    ...checkRows("ready run", ready, n),
  ];
}

function checkRows(label: string, run: WatcherStormResult, targets: number): Row[] {
  const { notOnce, wrongRecord, touched } = run.verdict;
  const none = { text: "none", limit: 0 };
  const count = (figure: string, value: number): Row => ({
    figure,
    value,
    unit: "",
    target: none,
    digits: 0,
  });
  return [
    count(`${label}: targets not flipped exactly once (of ${targets})`, notOnce.length),
    count(`${label}: targets with another reason or node`, wrongRecord.length),
    count(`${label}: other Deployments touched`, touched.length),
    count(`${label}: the watcher's own flip count off by`, Math.abs(run.flipsCounted - targets)),
  ];
}
