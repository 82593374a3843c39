// What becomes of a message once its event has been handled: deleted when the event is done with (handled,
// or permanently unusable), otherwise left to come back after a delay that grows with its receive count;
// on its last attempt (the queue's redrive policy moves it to the dead-letter queue next) it is given up.
import type { Message } from "@aws-sdk/client-sqs";
import { PermanentError, RetryableError, toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { InterruptionEvent } from "./interruptionEvent.ts";
import { RESULTS } from "./metrics.ts";
import type { SqsQueue } from "./queue.ts";

/** Events that are not this cluster's to act on, routine with a queue shared or AWS Health updates: debug. */
const ROUTINE_KINDS: readonly string[] = ["foreign-instance", "ignored-health-event"];

/** How an event that cannot be acted on is logged: routine kinds at debug, the others at warn. */
export function levelOfPermanent(kind: string): "debug" | "warn" {
  return ROUTINE_KINDS.includes(kind) ? "debug" : "warn";
}

export interface Settlement {
  queue: SqsQueue;
  metrics: Pick<WatcherMetrics, "eventsReceived">;
  /** A failed message comes back after this many seconds times its receive count... */
  retryDelaySeconds: number;
  /** ...but never later than this. */
  maxRetryDelaySeconds: number;
}

export type HandlerOutcome =
  | { ok: true }
  /** `maxReceiveCount`: the queue's redrive policy, when known. */
  | { ok: false; failure: unknown; maxReceiveCount?: number | undefined };

export async function settle(
  settlement: Settlement,
  message: Message,
  event: InterruptionEvent,
  outcome: HandlerOutcome,
  log: Logger,
): Promise<void> {
  const { queue, metrics } = settlement;
  const count = (result: string) => metrics.eventsReceived.inc({ type: event.kind, result });
  if (outcome.ok) {
    count(RESULTS.handled);
    await queue.delete(message, log);
    return;
  }
  const { failure } = outcome;
  if (failure instanceof PermanentError) {
    count(failure.kind);
    log[levelOfPermanent(failure.kind)](
      { kind: failure.kind, reason: failure.message },
      "event cannot be acted on; deleting it",
    );
    await queue.delete(message, log);
    return;
  }
  if (isFinalAttempt(message, outcome.maxReceiveCount)) {
    count(RESULTS.givenUp);
    await giveUp(queue, message, failure, outcome.maxReceiveCount, log);
    return;
  }
  await retryLater(settlement, message, failure, count, log);
}

/** The event's last attempt failed: the message goes to the dead-letter queue on its next receive. */
async function giveUp(
  queue: SqsQueue,
  message: Message,
  failure: unknown,
  maxReceiveCount: number | undefined,
  log: Logger,
): Promise<void> {
  log.error(
    { err: toError(failure), receiveCount: receiveCountOf(message), maxReceiveCount },
    "handling failed on the event's last attempt; the queue moves it to the dead-letter queue",
  );
  // visible at once: the next receive moves it to the dead-letter queue instead of handing it out
  await queue.changeVisibility(message, 0, log, "could not hand the message to the dead-letter queue early");
}

/** A failed attempt that is not the last: the message comes back after a delay growing with its receives. */
async function retryLater(
  settlement: Settlement,
  message: Message,
  failure: unknown,
  count: (result: string) => void,
  log: Logger,
): Promise<void> {
  const retryInSeconds = Math.min(
    settlement.retryDelaySeconds * receiveCountOf(message),
    settlement.maxRetryDelaySeconds,
  );
  if (failure instanceof RetryableError) {
    count(RESULTS.retry);
    log.warn({ err: failure, retryInSeconds }, "handling failed; the event will come back");
  } else {
    count(RESULTS.error);
    log.error(
      { err: toError(failure), retryInSeconds },
      "handler failed unexpectedly; the event will come back",
    );
  }
  await settlement.queue.changeVisibility(
    message,
    retryInSeconds,
    log,
    "could not shorten the message's visibility; it comes back after the full timeout",
  );
}

/** How often SQS has handed this message out, this time included. */
export function receiveCountOf(message: Message): number {
  return Number(message.Attributes?.ApproximateReceiveCount) || 1;
}

/** True when the queue moves the message to its dead-letter queue instead of handing it out again. */
export function isFinalAttempt(message: Message, maxReceiveCount: number | undefined): boolean {
  return maxReceiveCount !== undefined && receiveCountOf(message) >= maxReceiveCount;
}
