// New pods of a move that are not Ready yet, and why, in the words of whoever holds them now. Two kinds:
// - unscheduled: no node yet (the scheduler, or EKS's fargate-scheduler, has not placed it); measured from
//   the pod's creation; the reason is the PodScheduled condition, else the newest Warning Event.
// - starting: bound to a node, its containers not Ready (on Fargate: a microVM booting and an image pulled
//   without cache, 30-90 s on EKS); measured from the binding; the reason is a waiting container or the
//   Ready condition, else a Warning Event newer than the binding (never one about scheduling: the pod is
//   placed, so those are stale).
import type { EventsV1Event, V1Deployment, V1Pod } from "@kubernetes/client-node";
import { formatDuration } from "../../core/duration.ts";
import { classify, type Kube } from "../../core/kube.ts";
import { isPodReady } from "../cluster/pods.ts";
import { newPods } from "../cluster/newPods.ts";

export type Waiting = "unscheduled" | "starting";

export interface WaitingPod {
  pod: V1Pod;
  waiting: Waiting;
  /** When it began to wait so (epoch ms): its creation (unscheduled) or its binding (starting). */
  since: number;
  forMs: number;
}

/** How the pod waits, and since when (epoch ms); undefined when it is Ready, finished or going away. */
export function waitingSince(pod: V1Pod): { waiting: Waiting; since: number } | undefined {
  const phase = pod.status?.phase;
  if (pod.metadata?.deletionTimestamp !== undefined || phase === "Succeeded" || phase === "Failed") {
    return undefined;
  }
  if (isPodReady(pod)) return undefined;
  const created = pod.metadata?.creationTimestamp?.getTime() ?? 0;
  if (!pod.spec?.nodeName) return { waiting: "unscheduled", since: created };
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True");
  const bound = scheduled?.lastTransitionTime ?? pod.status?.startTime;
  return { waiting: "starting", since: bound === undefined ? created : new Date(bound).getTime() };
}

/** The pod of each kind that has waited the longest. */
export function longestWaiting(pods: V1Pod[], now: number): Partial<Record<Waiting, WaitingPod>> {
  const longest: Partial<Record<Waiting, WaitingPod>> = {};
  for (const pod of pods) {
    const state = waitingSince(pod);
    if (state === undefined) continue;
    const forMs = Math.max(0, now - state.since);
    const current = longest[state.waiting];
    if (current === undefined || forMs > current.forMs) longest[state.waiting] = { pod, ...state, forMs };
  }
  return longest;
}

/** Why `waiting.pod` waits, from what holds now. */
export function waitingReason(waiting: WaitingPod, events: EventsV1Event[]): string {
  const { pod } = waiting;
  if (waiting.waiting === "unscheduled") {
    const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (scheduled?.status === "False") {
      return [scheduled.reason, scheduled.message].filter(Boolean).join(": ") || "not scheduled";
    }
    const gates = pod.spec?.schedulingGates ?? [];
    const newest = newestWarning(events, 0);
    if (newest !== undefined) return describeEvent(newest);
    if (gates.length > 0) return `SchedulingGated: waiting for ${gates.map((g) => g.name).join(", ")}`;
    return "not scheduled yet (no scheduler has reported on it)";
  }
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const state = c.state?.waiting;
    if (state?.reason && state.reason !== "ContainerCreating" && state.reason !== "PodInitializing") {
      return `container ${c.name}: ${[state.reason, state.message].filter(Boolean).join(": ")}`;
    }
  }
  const newest = newestWarning(events, waiting.since, (e) => e.reason !== "FailedScheduling");
  if (newest !== undefined) return describeEvent(newest);
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  const detail = [ready?.reason, ready?.message].filter(Boolean).join(": ");
  return `starting on ${pod.spec?.nodeName ?? "its node"}${detail ? ` (${detail})` : ", containers being created"}`;
}

function newestWarning(
  events: EventsV1Event[],
  notBefore: number,
  keep: (event: EventsV1Event) => boolean = () => true,
): EventsV1Event | undefined {
  return events
    .filter((e) => e.type === "Warning" && timeOf(e) >= notBefore && keep(e))
    .sort((a, b) => timeOf(b) - timeOf(a))[0];
}

function describeEvent(event: EventsV1Event): string {
  const by = event.reportingController ?? event.deprecatedSource?.component;
  return `${event.reason ?? "Warning"}${by ? ` (${by})` : ""}: ${event.note ?? ""}`.trim();
}

function timeOf(event: EventsV1Event): number {
  const time = event.series?.lastObservedTime ?? event.eventTime ?? event.deprecatedLastTimestamp;
  return time === undefined ? 0 : new Date(time).getTime();
}

/** `pod web-7d9c-x2 Pending for 1m35s: <reason>` or `pod web-7d9c-x2 starting for 52s: <reason>`. */
export function describeWaiting(waiting: WaitingPod, reason: string): string {
  const how = waiting.waiting === "unscheduled" ? "Pending" : "starting";
  return `pod ${waiting.pod.metadata?.name ?? "?"} ${how} for ${formatDuration(waiting.forMs)}: ${reason}`;
}

export interface StuckPod {
  waiting: WaitingPod;
  reason: string;
}

/**
 * How long, from the clock reading behind `stuck`, until any new pod can have waited past its kind's limit:
 * no pod of a kind has waited longer than that kind's longest, and a pod that begins to wait begins at
 * zero. Undefined without limits.
 */
export function untilALimit(
  stuck: Partial<Record<Waiting, Pick<StuckPod, "waiting">>>,
  limits: Partial<Record<Waiting, number>>,
): number | undefined {
  const gaps = (["unscheduled", "starting"] as const).flatMap((kind) => {
    const limit = limits[kind];
    return limit === undefined ? [] : [limit - (stuck[kind]?.waiting.forMs ?? 0)];
  });
  return gaps.length === 0 ? undefined : Math.max(0, Math.min(...gaps));
}

/**
 * The Deployment's new pods waiting the longest, of each kind, with their reasons. Durations are measured
 * from a clock reading taken after the pods were read.
 */
export async function stuckPods(
  kube: Kube,
  deployment: V1Deployment,
  clock: () => number = Date.now,
): Promise<Partial<Record<Waiting, StuckPod>>> {
  const pods = (await newPods(kube, deployment)) ?? [];
  const longest = longestWaiting(pods, clock());
  const stuck: Partial<Record<Waiting, StuckPod>> = {};
  for (const waiting of Object.values(longest)) {
    const namespace = waiting.pod.metadata?.namespace ?? "";
    let events: EventsV1Event[];
    try {
      const fieldSelector = `regarding.uid=${waiting.pod.metadata?.uid ?? ""}`;
      events = (await kube.events.listNamespacedEvent({ namespace, fieldSelector })).items;
    } catch (err) {
      throw classify(err, `list events of pod ${namespace}/${waiting.pod.metadata?.name}`);
    }
    stuck[waiting.waiting] = { waiting, reason: waitingReason(waiting, events) };
  }
  return stuck;
}
