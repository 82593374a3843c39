// Long-polls the interruption queue and hands each EC2 event to the handler, a few at a time.
// A message is deleted when its event is handled, permanently unusable, or a repeat of one already
// handled; otherwise it is left to come back after a short, growing delay.
import { setTimeout as sleep } from "node:timers/promises";
import { ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import { backoff } from "../../core/backoff.ts";
import { PermanentError, toError } from "../../core/errors.ts";
import { settleWithin } from "../../core/settleWithin.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { Ec2Event, EventHandler } from "./ec2Event.ts";
import { parseMessageBody } from "./parseEvent.ts";
import { SqsQueue } from "./queue.ts";
import { receiveCountOf, RESULTS, settle, type HandlerOutcome } from "./settle.ts";
import { RecentIds } from "./recentIds.ts";
import { VisibilityHeartbeat } from "./visibilityHeartbeat.ts";

export interface SqsConsumerOptions {
  client: SQSClient;
  queueUrl: string;
  /** Messages handled at once; default 10. */
  concurrency?: number;
  /** How long a received message stays invisible, extended while its handler runs; default 30. */
  visibilityTimeoutSeconds?: number;
  /** Long-polling wait; default 20 (the SQS maximum). */
  waitTimeSeconds?: number;
  log: Logger;
  metrics: Pick<WatcherMetrics, "eventsReceived" | "sqsErrors">;
  handler: EventHandler;
  /** How long stop() waits for running handlers; default 20 s. */
  stopTimeoutMs?: number;
  /** A failed message comes back after this many seconds times its receive count; default 5. */
  retryDelaySeconds?: number;
  /** ...but never later than this; default 60. */
  maxRetryDelaySeconds?: number;
  /** Wait after a failed receive, doubling up to `maxMs`; default 1 s to 30 s. */
  receiveBackoff?: { initialMs: number; maxMs: number };
  /** Completed event and message ids remembered to recognise repeats; default 10 000 for an hour. */
  completedIds?: { maxSize: number; ttlMs: number };
}

const UNKNOWN_TYPE = "unknown";

const DEFAULTS = {
  concurrency: 10,
  visibilityTimeoutSeconds: 30,
  waitTimeSeconds: 20,
  stopTimeoutMs: 20_000,
  retryDelaySeconds: 5,
  maxRetryDelaySeconds: 60,
  receiveBackoff: { initialMs: 1_000, maxMs: 30_000 },
  completedIds: { maxSize: 10_000, ttlMs: 3_600_000 },
};

export class SqsConsumer {
  private readonly options: Required<SqsConsumerOptions>;
  private readonly log: Logger;
  private readonly completed: RecentIds;
  private readonly queue: SqsQueue;

  private readonly inFlight = new Set<Promise<void>>();
  private readonly heartbeats = new Set<VisibilityHeartbeat>();
  /** Event id → the handling of that event now running, so a concurrent repeat waits for it. */
  private readonly handling = new Map<string, Promise<void>>();
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake = new AbortController();
  /** Settles when stop() is called. */
  private woken: Promise<void> = Promise.resolve();

  constructor(options: SqsConsumerOptions) {
    this.options = {
      ...DEFAULTS,
      ...options,
      concurrency: Math.max(1, options.concurrency ?? DEFAULTS.concurrency),
    };
    this.log = options.log;
    const { maxSize, ttlMs } = this.options.completedIds;
    this.completed = new RecentIds(maxSize, ttlMs);
    this.queue = new SqsQueue(options.client, options.queueUrl, options.metrics);
  }

  /** Receives until stop(); resolves when the receive loop has ended. Never rejects. */
  start(): Promise<void> {
    if (this.running) return this.running;
    this.stopping = false;
    this.wake = new AbortController();
    const signal = this.wake.signal;
    this.woken = new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    this.log.info(
      {
        queueUrl: this.options.queueUrl,
        concurrency: this.options.concurrency,
        visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      },
      "receiving EC2 events from SQS",
    );
    this.running = this.receiveLoop().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Stops receiving and waits up to `timeoutMs` for running handlers. Returns whether they all finished;
   * the messages of any still running stop being extended and come back to the next consumer.
   */
  async stop(timeoutMs = this.options.stopTimeoutMs): Promise<boolean> {
    this.stopping = true;
    this.wake.abort();
    await this.running;
    const drained = await settleWithin([...this.inFlight], timeoutMs);
    if (!drained) {
      this.log.warn(
        { running: this.inFlight.size, timeoutMs },
        "handlers still running after stop; their messages will come back",
      );
      await Promise.all([...this.heartbeats].map((heartbeat) => heartbeat.stop()));
    }
    this.log.info("stopped receiving EC2 events");
    return drained;
  }

  /** Messages being handled now. */
  get busy(): number {
    return this.inFlight.size;
  }

  private async receiveLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      while (this.inFlight.size >= this.options.concurrency && !this.stopping) {
        await Promise.race([...this.inFlight, this.woken]);
      }
      if (this.stopping) break;
      let messages: Message[];
      try {
        const output = await this.options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.options.concurrency - this.inFlight.size),
            WaitTimeSeconds: this.options.waitTimeSeconds,
            VisibilityTimeout: this.options.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          { abortSignal: this.wake.signal },
        );
        messages = output.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        this.options.metrics.sqsErrors.inc({ operation: "receive" });
        const retryInMs = backoff(
          ++failures,
          this.options.receiveBackoff.initialMs,
          this.options.receiveBackoff.maxMs,
        );
        this.log.error({ err, retryInMs }, "receiving from SQS failed");
        await sleep(retryInMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
        continue;
      }
      const receivedAt = Date.now();
      for (const message of messages) {
        const work = this.handleMessage(message, receivedAt).catch((err: unknown) => {
          this.log.error(
            { err, messageId: message.MessageId },
            "handling an SQS message failed unexpectedly",
          );
        });
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      }
    }
  }

  private async handleMessage(message: Message, receivedAt: number): Promise<void> {
    const messageId = message.MessageId ?? "";
    let log = this.log.child({ messageId });
    if (this.completed.has(`message:${messageId}`)) {
      this.count(UNKNOWN_TYPE, RESULTS.duplicate);
      log.info("message already handled; deleting it again");
      await this.queue.delete(message, log);
      return;
    }

    let event: Ec2Event;
    try {
      event = parseMessageBody(message.Body ?? "");
    } catch (err) {
      const error =
        err instanceof PermanentError ? err : new PermanentError("unparseable", toError(err).message);
      this.count(UNKNOWN_TYPE, error.kind);
      log.warn(
        { kind: error.kind, reason: error.message },
        "deleting a message that is not an EC2 event to act on",
      );
      await this.queue.delete(message, log);
      return;
    }
    log = this.log.child({ eventId: event.id, instanceId: event.instanceId, messageId });

    // Held from here on, also while a copy of the same event is being handled from another message.
    const heartbeat = new VisibilityHeartbeat({
      queue: this.queue,
      message,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      log,
    });
    this.heartbeats.add(heartbeat);
    const release = async () => {
      await heartbeat.stop();
      this.heartbeats.delete(heartbeat);
    };
    try {
      for (let running = this.handling.get(event.id); running; running = this.handling.get(event.id)) {
        log.debug("the same event is being handled from another message; waiting for it");
        await running;
      }
      if (this.completed.has(`event:${event.id}`)) {
        await release();
        this.count(event.kind, RESULTS.duplicate);
        this.completed.add(`message:${messageId}`);
        log.info("event already handled; deleting the repeat");
        await this.queue.delete(message, log);
        return;
      }
      const handling = this.runHandler(event, message, receivedAt, log, release);
      this.handling.set(event.id, handling);
      try {
        await handling;
      } finally {
        this.handling.delete(event.id);
      }
    } finally {
      await release();
    }
  }

  /** Runs the handler and settles the message by the outcome. `release` stops the visibility extensions. */
  private async runHandler(
    event: Ec2Event,
    message: Message,
    receivedAt: number,
    log: Logger,
    release: () => Promise<void>,
  ): Promise<void> {
    let outcome: HandlerOutcome;
    try {
      const receiveCount = receiveCountOf(message);
      log.info({ kind: event.kind, receiveCount, deadline: event.deadline }, "handling EC2 event");
      await this.options.handler(event, { log, receivedAt });
      outcome = { ok: true };
      this.completed.add(`event:${event.id}`);
      this.completed.add(`message:${message.MessageId ?? ""}`);
    } catch (failure) {
      outcome = { ok: false, failure };
    }
    // No extension may land after the delete or the retry delay.
    await release();
    await settle({ ...this.options, queue: this.queue }, message, event, outcome, log);
  }

  private count(type: string, result: string): void {
    this.options.metrics.eventsReceived.inc({ type, result });
  }
}
