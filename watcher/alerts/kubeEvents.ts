// Kubernetes Events (events.k8s.io/v1) on a Deployment, so `kubectl describe deployment` tells the story, and
// on the watcher's own Pod for what concerns the watcher itself (its queue). Recording never throws: an Event
// is worth less than the work it describes.
import { randomBytes } from "node:crypto";
import {
  V1MicroTime,
  type EventsV1Event,
  type V1Deployment,
  type V1ObjectReference,
} from "@kubernetes/client-node";
import type { EventReason } from "../../core/contract.ts";
import { WriteLane, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";

export const REPORTING_CONTROLLER = "spot-orchestrator.io/watcher";
const MAX_NOTE_BYTES = 1024;

export type EventReasonValue = (typeof EventReason)[keyof typeof EventReason];

export interface DeploymentEvent {
  type: "Normal" | "Warning";
  reason: EventReasonValue;
  /** What the watcher did (or failed to do), e.g. "Migrate", "Verify", "Repair". */
  action: string;
  note: string;
}

export interface EventRecorderOptions {
  kube: Kube;
  identity: string;
  log: Logger;
  dryRun?: boolean;
}

export class EventRecorder {
  private readonly options: EventRecorderOptions;
  /** Events being written, so a shutdown can wait for them. */
  private readonly pending = new Set<Promise<void>>();

  constructor(options: EventRecorderOptions) {
    this.options = options;
  }

  /** Records the Event on the Deployment in the background; never throws (a failure is logged). */
  record(deployment: V1Deployment, event: DeploymentEvent): void {
    this.recordOn(referenceTo(deployment), event);
  }

  /** Records the Event on any object (the watcher's Pod) in the background; never throws. */
  recordOn(regarding: V1ObjectReference, event: DeploymentEvent): void {
    const write = this.write(regarding, event);
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  /** Resolves once every Event recorded so far is written or given up. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async write(regarding: V1ObjectReference, event: DeploymentEvent): Promise<void> {
    const { kube, identity, log, dryRun = false } = this.options;
    const { namespace = "", name = "", kind } = regarding;
    const eventLog = log.child({
      namespace,
      name,
      ...(kind === "Deployment" ? {} : { kind }),
      reason: event.reason,
    });
    if (dryRun) {
      eventLog.info({ type: event.type, note: event.note }, "dry run: would record event");
      return;
    }
    // its time is when it happened, not when the write budget let it through
    const body = eventBody(regarding, event, identity);
    try {
      await kube.limiter.take(WriteLane.event);
      await kube.events.createNamespacedEvent({ namespace, body });
    } catch (err) {
      eventLog.warn({ err }, "recording event failed");
    }
  }
}

/** The reference an Event on the Deployment carries. */
export function referenceTo(deployment: V1Deployment): V1ObjectReference {
  const { namespace, name, uid, resourceVersion } = deployment.metadata ?? {};
  return { apiVersion: "apps/v1", kind: "Deployment", namespace, name, uid, resourceVersion };
}

export function eventBody(
  regarding: V1ObjectReference,
  event: DeploymentEvent,
  identity: string,
): EventsV1Event {
  const { namespace, name } = regarding;
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(3).toString("hex")}`, namespace },
    eventTime: new V1MicroTime(),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: identity.slice(0, 128),
    action: event.action,
    reason: event.reason,
    type: event.type,
    note: truncateUtf8(event.note, MAX_NOTE_BYTES),
    regarding,
  };
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes - 3) break;
    out += char;
    bytes += size;
  }
  return `${out}...`;
}
