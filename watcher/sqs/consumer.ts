// Long-polls the interruption queue and hands each EC2 event to the handler, a few at a time.
// A message is deleted when its event is handled, permanently unusable, or a repeat of one already
// handled; otherwise it is left to come back after a short, growing delay.
import { setTimeout as sleep } from "node:timers/promises";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import { backoff } from "../../core/backoff.ts";
import type { Config } from "../../core/config.ts";
import { PermanentError, RetryableError, toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { Ec2Event, EventHandler } from "./ec2Event.ts";
import { parseMessageBody } from "./parseEvent.ts";
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

/** Outcome labels of `eventsReceived{result}` besides the PermanentError kinds. */
export const RESULTS = {
  handled: "handled",
  duplicate: "duplicate",
  retry: "retry",
  error: "error",
} as const;

const UNKNOWN_TYPE = "unknown";

export class SqsConsumer {
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly concurrency: number;
  private readonly visibilityTimeoutSeconds: number;
  private readonly waitTimeSeconds: number;
  private readonly log: Logger;
  private readonly metrics: SqsConsumerOptions["metrics"];
  private readonly handler: EventHandler;
  private readonly stopTimeoutMs: number;
  private readonly retryDelaySeconds: number;
  private readonly maxRetryDelaySeconds: number;
  private readonly receiveBackoff: { initialMs: number; maxMs: number };
  private readonly completed: RecentIds;

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
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.concurrency = Math.max(1, options.concurrency ?? 10);
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    this.waitTimeSeconds = options.waitTimeSeconds ?? 20;
    this.log = options.log;
    this.metrics = options.metrics;
    this.handler = options.handler;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 20_000;
    this.retryDelaySeconds = options.retryDelaySeconds ?? 5;
    this.maxRetryDelaySeconds = options.maxRetryDelaySeconds ?? 60;
    this.receiveBackoff = options.receiveBackoff ?? { initialMs: 1_000, maxMs: 30_000 };
    const remember = options.completedIds ?? { maxSize: 10_000, ttlMs: 3_600_000 };
    this.completed = new RecentIds(remember.maxSize, remember.ttlMs);
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
        queueUrl: this.queueUrl,
        concurrency: this.concurrency,
        visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
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
  async stop(timeoutMs = this.stopTimeoutMs): Promise<boolean> {
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
      while (this.inFlight.size >= this.concurrency && !this.stopping) {
        await Promise.race([...this.inFlight, this.woken]);
      }
      if (this.stopping) break;
      let messages: Message[];
      try {
        const output = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.concurrency - this.inFlight.size),
            WaitTimeSeconds: this.waitTimeSeconds,
            VisibilityTimeout: this.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          { abortSignal: this.wake.signal },
        );
        messages = output.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        this.metrics.sqsErrors.inc({ operation: "receive" });
        const retryInMs = backoff(++failures, this.receiveBackoff.initialMs, this.receiveBackoff.maxMs);
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
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount) || 1;
    let log = this.log.child({ messageId });
    if (this.completed.has(`message:${messageId}`)) {
      this.count(UNKNOWN_TYPE, RESULTS.duplicate);
      log.info("message already handled; deleting it again");
      await this.delete(message, log);
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
      await this.delete(message, log);
      return;
    }
    log = this.log.child({ eventId: event.id, instanceId: event.instanceId, messageId });

    // Held from here on, also while a copy of the same event is being handled from another message.
    const heartbeat = new VisibilityHeartbeat({
      client: this.client,
      queueUrl: this.queueUrl,
      receiptHandle: message.ReceiptHandle ?? "",
      visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
      log,
      metrics: this.metrics,
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
        await this.delete(message, log);
        return;
      }
      const handling = this.runHandler(event, message, receiveCount, receivedAt, log, release);
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
    receiveCount: number,
    receivedAt: number,
    log: Logger,
    release: () => Promise<void>,
  ): Promise<void> {
    let failure: unknown;
    let ok = false;
    try {
      log.info({ kind: event.kind, receiveCount, deadline: event.deadline }, "handling EC2 event");
      await this.handler(event, { log, receivedAt });
      ok = true;
    } catch (err) {
      failure = err;
    }
    // No extension may land after the delete or the retry delay below.
    await release();

    if (ok) {
      this.completed.add(`event:${event.id}`);
      this.completed.add(`message:${message.MessageId ?? ""}`);
      this.count(event.kind, RESULTS.handled);
      await this.delete(message, log);
    } else if (failure instanceof PermanentError) {
      this.count(event.kind, failure.kind);
      log.warn({ kind: failure.kind, reason: failure.message }, "event cannot be acted on; deleting it");
      await this.delete(message, log);
    } else {
      const retryable = failure instanceof RetryableError;
      const retryInSeconds = Math.min(this.retryDelaySeconds * receiveCount, this.maxRetryDelaySeconds);
      this.count(event.kind, retryable ? RESULTS.retry : RESULTS.error);
      if (retryable) log.warn({ err: failure, retryInSeconds }, "handling failed; the event will come back");
      else {
        log.error(
          { err: toError(failure), retryInSeconds },
          "handler failed unexpectedly; the event will come back",
        );
      }
      await this.setVisibility(message, retryInSeconds, log);
    }
  }

  private count(type: string, result: string): void {
    this.metrics.eventsReceived.inc({ type, result });
  }

  private async delete(message: Message, log: Logger): Promise<void> {
    try {
      await this.client.send(
        new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (err) {
      // It comes back; the completed ids make the next delivery a plain delete.
      this.metrics.sqsErrors.inc({ operation: "delete" });
      log.error({ err }, "deleting the SQS message failed; it will be received again");
    }
  }

  private async setVisibility(message: Message, seconds: number, log: Logger): Promise<void> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (err) {
      this.metrics.sqsErrors.inc({ operation: "change-visibility" });
      log.warn({ err }, "could not shorten the message's visibility; it comes back after the full timeout");
    }
  }
}

/** The SQS client of the watcher and the drill: region and endpoint from the config, credentials from the default chain. */
export function createSqsClient(config: Pick<Config, "aws">): SQSClient {
  return new SQSClient({
    region: config.aws.region,
    ...(config.aws.sqsEndpointUrl ? { endpoint: config.aws.sqsEndpointUrl } : {}),
    // Long polls keep the socket quiet for up to 20 s; anything quieter for longer is a dead connection.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 35_000 },
  });
}

async function settleWithin(work: Promise<unknown>[], timeoutMs: number): Promise<boolean> {
  const timeout = new AbortController();
  const allDone = Promise.allSettled(work).then(() => true);
  const timedOut = sleep(timeoutMs, false, { signal: timeout.signal }).catch(() => false);
  try {
    return await Promise.race([allDone, timedOut]);
  } finally {
    timeout.abort();
  }
}
