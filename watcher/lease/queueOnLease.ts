// The leader's view of its queue, kept on its Lease beside its settings (see settingsOnLease.ts), so that
// `spot-orchestrator status` and `doctor` can tell from anywhere whether the running watcher reads its queue.
import type { V1Lease } from "@kubernetes/client-node";
import { PREFIX } from "../../core/contract.ts";
import { formatDuration } from "../../core/duration.ts";
import { parseTime, rfc3339 } from "../../core/time.ts";
import { leaseExpiry } from "./leaderElection.ts";
import type { QueueState } from "../sqs/reachability.ts";

const QUEUE_ANNOTATION = `${PREFIX}queue`;

/** What the annotation holds: the state, since when (RFC 3339) and the last AWS error, for `queueUrl`. */
export interface PublishedQueueState {
  state: QueueState["state"];
  since?: string;
  error?: string;
  queueUrl: string;
}

export function queueAnnotations(queueUrl: string, queue: QueueState): Record<string, string> {
  const published: PublishedQueueState = {
    state: queue.state,
    ...("since" in queue ? { since: rfc3339(queue.since) } : {}),
    ...("error" in queue ? { error: queue.error } : {}),
    queueUrl,
  };
  return { [QUEUE_ANNOTATION]: JSON.stringify(published) };
}

/** The queue state a leader wrote on its Lease; undefined when there is none or it is unreadable. */
export function queueOnLease(lease: V1Lease | undefined): PublishedQueueState | undefined {
  const text = lease?.metadata?.annotations?.[QUEUE_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<PublishedQueueState>;
    if (typeof value.state !== "string" || typeof value.queueUrl !== "string") return undefined;
    return value as PublishedQueueState;
  } catch {
    return undefined;
  }
}

/** How `status` and `doctor` tell the leader's queue state: `fail` when unreachable, `warn` when unsure. */
export interface QueueReport {
  status: "ok" | "warn" | "fail";
  text: string;
}

export function queueReport(lease: V1Lease | undefined, now: number): QueueReport {
  const published = queueOnLease(lease);
  if (!lease || !published) {
    return {
      status: "warn",
      text: "unknown: no leader watcher has reported on its Lease (leader election off?)",
    };
  }
  const holder = lease.spec?.holderIdentity;
  const expiry = leaseExpiry(lease);
  const reporter = holder && expiry !== undefined && expiry > now ? `leader ${holder}` : undefined;
  const since = published.since ? ` since ${published.since} (${ago(published.since, now)})` : "";
  const error = published.error ? `: ${published.error}` : "";
  const text = {
    unknown: "not received from yet",
    reachable: `reachable${since}`,
    failing: `receives failing${since}${error}`,
    unreachable: `UNREACHABLE${since}${error}; interruptions are being missed`,
  }[published.state];
  if (!reporter) {
    return { status: "warn", text: `no leader now; the last one reported ${published.queueUrl} ${text}` };
  }
  const status = published.state === "unreachable" ? "fail" : published.state === "reachable" ? "ok" : "warn";
  return { status, text: `${published.queueUrl} ${text} (${reporter})` };
}

function ago(time: string, now: number): string {
  const ms = parseTime(time);
  return ms === undefined ? "?" : `${formatDuration(Math.max(0, now - ms))} ago`;
}
