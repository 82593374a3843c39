// Pods of a move that stay Pending, and why, as the scheduler (or EKS's fargate-scheduler) says it: the
// PodScheduled condition, a container left waiting, or the pod's newest Warning Event.
import type { EventsV1Event, V1Deployment, V1Pod } from "@kubernetes/client-node";
import { formatDuration } from "../core/duration.ts";
import { classify, type Kube } from "../core/kube.ts";
import { newPods } from "./workloadHealth.ts";

export interface PendingPod {
  pod: V1Pod;
  /** How long it has been Pending, from its creation. */
  forMs: number;
}

/** The new pod Pending the longest (not yet Running: unscheduled, or its containers not started). */
export function longestPending(pods: V1Pod[], now: number): PendingPod | undefined {
  let longest: PendingPod | undefined;
  for (const pod of pods) {
    if (pod.status?.phase !== "Pending" || pod.metadata?.deletionTimestamp !== undefined) continue;
    const forMs = now - (pod.metadata?.creationTimestamp?.getTime() ?? now);
    if (longest === undefined || forMs > longest.forMs) longest = { pod, forMs };
  }
  return longest;
}

/** Why `pod` is Pending, in the words of whoever keeps it there. */
export function pendingReason(pod: V1Pod, events: EventsV1Event[]): string {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") {
    return [scheduled.reason, scheduled.message].filter(Boolean).join(": ") || "not scheduled";
  }
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && waiting.reason !== "ContainerCreating" && waiting.reason !== "PodInitializing") {
      return `container ${c.name}: ${[waiting.reason, waiting.message].filter(Boolean).join(": ")}`;
    }
  }
  const newest = events.filter((e) => e.type === "Warning").sort((a, b) => timeOf(b) - timeOf(a))[0];
  if (newest !== undefined) {
    const by = newest.reportingController ?? newest.deprecatedSource?.component;
    return `${newest.reason ?? "Warning"}${by ? ` (${by})` : ""}: ${newest.note ?? ""}`.trim();
  }
  return "no reason reported yet (no PodScheduled condition, waiting container or Warning Event)";
}

function timeOf(event: EventsV1Event): number {
  const time = event.series?.lastObservedTime ?? event.eventTime ?? event.deprecatedLastTimestamp;
  return time === undefined ? 0 : new Date(time).getTime();
}

/** `pod web-7d9c-x2 Pending for 1m35s: <reason>`. */
export function describePending(pending: PendingPod, reason: string): string {
  return `pod ${pending.pod.metadata?.name ?? "?"} Pending for ${formatDuration(pending.forMs)}: ${reason}`;
}

/** The Deployment's new pod Pending the longest, with its reason; undefined when none is Pending. */
export async function stuckPod(
  kube: Kube,
  deployment: V1Deployment,
  now: number,
): Promise<{ pending: PendingPod; reason: string } | undefined> {
  const pending = longestPending((await newPods(kube, deployment)) ?? [], now);
  if (pending === undefined) return undefined;
  const namespace = pending.pod.metadata?.namespace ?? "";
  let events: EventsV1Event[];
  try {
    const fieldSelector = `regarding.uid=${pending.pod.metadata?.uid ?? ""}`;
    events = (await kube.events.listNamespacedEvent({ namespace, fieldSelector })).items;
  } catch (err) {
    throw classify(err, `list events of pod ${namespace}/${pending.pod.metadata?.name}`);
  }
  return { pending, reason: pendingReason(pending.pod, events) };
}
