// What happens to one received message: a repeat of a message or event already handled is deleted; the
// event is parsed, kept invisible to other consumers while its handler runs, and settled by the outcome;
// one that fails on its last attempt is given up (and told of) before the queue moves it aside.
import type { Message } from "@aws-sdk/client-sqs";
import { PermanentError, toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { occurrenceOf, type InterruptionEvent, type EventHandler } from "./interruptionEvent.ts";
import { parseMessageBody } from "./parseEvent.ts";
import { awsErrorText, type SqsQueue } from "./queue.ts";
import { RESULTS } from "./metrics.ts";
import { RecentIds } from "./recentIds.ts";
import {
  isFinalAttempt,
  levelOfPermanent,
  receiveCountOf,
  settle,
  type HandlerOutcome,
  type Settlement,
} from "./settle.ts";
import { VisibilityHeartbeat } from "./visibilityHeartbeat.ts";

/** Told when an event failed on its last attempt: the queue moves it to the dead-letter queue next. */
export type GivenUpHandler = (
  event: InterruptionEvent,
  failure: unknown,
  context: { log: Logger; receiveCount: number },
) => void;

export interface MessageHandlerOptions extends Omit<Settlement, "queue"> {
  queue: SqsQueue;
  handler: EventHandler;
  onGivenUp?: GivenUpHandler | undefined;
  metrics: Pick<WatcherMetrics, "eventsReceived">;
  /** How long a message stays invisible, extended while its handler runs. */
  visibilityTimeoutSeconds: number;
  /** Completed event and message ids remembered to recognise repeats. */
  completedIds: { maxSize: number; ttlMs: number };
  log: Logger;
}

const UNKNOWN_TYPE = "unknown";

export class MessageHandler {
  private readonly options: MessageHandlerOptions;
  private readonly completed: RecentIds;
  private readonly heartbeats = new Set<VisibilityHeartbeat>();
  /** Event (occurrenceOf) → the handling of that event now running, so a concurrent repeat waits for it. */
  private readonly handling = new Map<string, Promise<void>>();

  constructor(options: MessageHandlerOptions) {
    this.options = options;
    this.completed = new RecentIds(options.completedIds.maxSize, options.completedIds.ttlMs);
  }

  /** Stops extending the visibility of the messages still being handled: they come back to the next consumer. */
  async stopHeartbeats(): Promise<void> {
    await Promise.all([...this.heartbeats].map((heartbeat) => heartbeat.stop()));
  }

  async handle(message: Message, receivedAt: number): Promise<void> {
    const messageId = message.MessageId ?? "";
    const log = this.options.log.child({ messageId });
    if (this.completed.has(`message:${messageId}`)) {
      this.count(UNKNOWN_TYPE, RESULTS.duplicate);
      log.info("message already handled; deleting it again");
      await this.options.queue.delete(message, log);
      return;
    }
    const event = await this.parse(message, log);
    if (event === undefined) return;
    await this.handleEvent(event, message, receivedAt);
  }

  /** The message's event; undefined when it is none to act on (counted, logged and deleted). */
  private async parse(message: Message, log: Logger): Promise<InterruptionEvent | undefined> {
    try {
      return parseMessageBody(message.Body ?? "");
    } catch (err) {
      const error =
        err instanceof PermanentError ? err : new PermanentError("unparseable", toError(err).message);
      this.count(UNKNOWN_TYPE, error.kind);
      log[levelOfPermanent(error.kind)](
        { kind: error.kind, reason: error.message },
        "deleting a message that is not an EC2 event to act on",
      );
      await this.options.queue.delete(message, log);
      return undefined;
    }
  }

  /** Handles the event once however many messages carry it, its message kept invisible meanwhile. */
  private async handleEvent(event: InterruptionEvent, message: Message, receivedAt: number): Promise<void> {
    const { queue } = this.options;
    const messageId = message.MessageId ?? "";
    const log = this.options.log.child({ eventId: event.id, instanceId: event.instanceId, messageId });
    // Held from here on, also while a copy of the same event is being handled from another message.
    const heartbeat = new VisibilityHeartbeat({
      queue,
      message,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      log,
    });
    this.heartbeats.add(heartbeat);
    const release = async () => {
      await heartbeat.stop();
      this.heartbeats.delete(heartbeat);
    };
    const occurrence = occurrenceOf(event);
    try {
      for (let running = this.handling.get(occurrence); running; running = this.handling.get(occurrence)) {
        log.debug("the same event is being handled from another message; waiting for it");
        await running;
      }
      if (this.completed.has(occurrence)) {
        await release();
        this.count(event.kind, RESULTS.duplicate);
        this.completed.add(`message:${messageId}`);
        log.info("event already handled; deleting the repeat");
        await queue.delete(message, log);
        return;
      }
      const handling = this.runHandler(event, message, receivedAt, log, release);
      this.handling.set(occurrence, handling);
      try {
        await handling;
      } finally {
        this.handling.delete(occurrence);
      }
    } finally {
      await release();
    }
  }

  /** Runs the handler and settles the message by the outcome. `release` stops the visibility extensions. */
  private async runHandler(
    event: InterruptionEvent,
    message: Message,
    receivedAt: number,
    log: Logger,
    release: () => Promise<void>,
  ): Promise<void> {
    let outcome: HandlerOutcome;
    const receiveCount = receiveCountOf(message);
    try {
      log.info({ kind: event.kind, receiveCount, deadline: event.deadline }, "handling EC2 event");
      await this.options.handler(event, { log, receivedAt });
      outcome = { ok: true };
      this.completed.add(occurrenceOf(event));
      this.completed.add(`message:${message.MessageId ?? ""}`);
    } catch (failure) {
      const maxReceiveCount = await this.maxReceiveCount(log);
      outcome = { ok: false, failure, maxReceiveCount };
      if (!(failure instanceof PermanentError) && isFinalAttempt(message, maxReceiveCount)) {
        this.options.onGivenUp?.(event, failure, { log, receiveCount });
      }
    }
    // No extension may land after the delete or the retry delay.
    await release();
    await settle(this.options, message, event, outcome, log);
  }

  /** The queue's maxReceiveCount; undefined without a redrive policy or while it cannot be read. */
  private async maxReceiveCount(log: Logger): Promise<number | undefined> {
    try {
      return (await this.options.queue.redrivePolicy())?.maxReceiveCount;
    } catch (err) {
      log.warn({ error: awsErrorText(err) }, "could not read the queue's redrive policy");
      return undefined;
    }
  }

  private count(type: string, result: string): void {
    this.options.metrics.eventsReceived.inc({ type, result });
  }
}
