// Tells when the leader cannot read its queue, and when it can again: an error line once per change (info
// on recovery), a Warning Event `QueueUnreachable` on the watcher's own Pod (`QueueReachable` after), the
// gauge `spot_orchestrator_queue_unreachable`, and an alert. Not the Pod's readiness: the webhook shares the
// Pod, and taking it out of the Service would take admission down with it.
import type { V1ObjectReference } from "@kubernetes/client-node";
import { EventReason } from "../../core/contract.ts";
import { formatDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import { rfc3339 } from "../../core/time.ts";
import type { Alerter } from "./alerter.ts";
import type { EventRecorder } from "./kubeEvents.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { ReachabilityListener } from "../sqs/reachability.ts";

export interface QueueAlarmDeps {
  queueUrl: string;
  /** The watcher's own Pod, where the Events go. */
  pod: V1ObjectReference;
  recorder: Pick<EventRecorder, "recordOn">;
  alerter: Alerter;
  metrics: Pick<WatcherMetrics, "queueUnreachable">;
  log: Logger;
  now?: () => number;
}

export function queueAlarm(deps: QueueAlarmDeps): ReachabilityListener {
  const { queueUrl, pod, recorder, alerter, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  return {
    unreachable({ since, error, failures }) {
      const failingFor = formatDuration(now() - since.getTime());
      metrics.queueUnreachable.set(1);
      log.error(
        { queueUrl, error, since: rfc3339(since), failures },
        "the SQS queue is unreachable: no interruption can be received until it is",
      );
      recorder.recordOn(pod, {
        type: "Warning",
        reason: EventReason.queueUnreachable,
        action: "Receive",
        note: `Cannot receive from ${queueUrl} for ${failingFor} (${failures} failed receives): ${error}. Interruptions are missed until it can.`,
      });
      alerter.problem("The watcher cannot read its SQS queue: interruptions are being missed", {
        queue: queueUrl,
        error,
        since: rfc3339(since),
        pod: `${pod.namespace}/${pod.name}`,
      });
    },
    reachable({ since }) {
      const downFor = formatDuration(now() - since.getTime());
      metrics.queueUnreachable.set(0);
      log.info({ queueUrl, unreachableFor: downFor }, "the SQS queue is reachable again");
      recorder.recordOn(pod, {
        type: "Normal",
        reason: EventReason.queueReachable,
        action: "Receive",
        note: `Receiving from ${queueUrl} again, after ${downFor} unreachable.`,
      });
      alerter.summary({
        title: "The watcher reads its SQS queue again",
        ok: true,
        lines: [`${queueUrl}: unreachable for ${downFor}, since ${rfc3339(since)}`],
      });
    },
  };
}
