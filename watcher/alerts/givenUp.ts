// Tells of an event given up (its last attempt failed; the queue moves it to the dead-letter queue): an
// error line, an alert, and a Warning Event `InterruptionGivenUp` on the watcher's Pod and on each Deployment
// the event would have moved. The count is the consumer's (`events_received_total{result="given-up"}`).
import type { V1ObjectReference } from "@kubernetes/client-node";
import { EventReason } from "../../core/contract.ts";
import { toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "./alerter.ts";
import type { EventRecorder } from "./kubeEvents.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { keyOf, refOf } from "../moves/deployments.ts";
import { MovesFailed } from "../migration/migrator.ts";
import { describeEvent, type InterruptionEvent } from "../sqs/interruptionEvent.ts";

export interface GivenUpDeps {
  nodes: NodeLookup;
  /** The watcher's own Pod. */
  pod: V1ObjectReference;
  recorder: Pick<EventRecorder, "record" | "recordOn">;
  alerter: Alerter;
}

export function reportGivenUp(
  deps: GivenUpDeps,
  event: InterruptionEvent,
  failure: unknown,
  context: { log: Logger; receiveCount: number },
): void {
  const { nodes, pod, recorder, alerter } = deps;
  const node = nodes.byInstanceId(event.instanceId)?.metadata?.name;
  const where = node ? `node ${node} (${event.instanceId})` : `instance ${event.instanceId}`;
  const error = toError(failure).message;
  const deployments = failure instanceof MovesFailed ? failure.deployments : [];
  const keys = deployments.map((d) => keyOf(refOf(d)));
  const named = keys.length > 0 ? keys.join(", ") : "(not known: the failure came first)";
  context.log.error(
    { err: toError(failure), receiveCount: context.receiveCount, deployments: keys },
    `gave up on ${describeEvent(event)} for ${where}; the Deployments it would have moved stay where they are`,
  );
  const note = `Gave up on ${describeEvent(event)} ${event.id} for ${where} after ${context.receiveCount} attempts: ${error}. It is in the queue's dead-letter queue.`;
  recorder.recordOn(pod, {
    type: "Warning",
    reason: EventReason.interruptionGivenUp,
    action: "Migrate",
    note: `${note} Deployments it would have moved: ${named}.`,
  });
  for (const deployment of deployments) {
    recorder.record(deployment, {
      type: "Warning",
      reason: EventReason.interruptionGivenUp,
      action: "Migrate",
      note: `Not moved: ${note}`,
    });
  }
  alerter.problem(`Gave up on ${describeEvent(event)} for ${where}: its Deployments were not moved`, {
    event: event.id,
    attempts: String(context.receiveCount),
    error,
    "would have moved": named,
    next: "the event is in the dead-letter queue; move the Deployments by hand if the instance is still going away",
  });
}
