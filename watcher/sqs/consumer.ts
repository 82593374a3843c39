// Long-polls the interruption queue and hands each event to the handler as soon as it is read: a burst is
// taken by several receives at once, up to the events in flight allowed.
// A message is deleted when its event is handled, permanently unusable, or a repeat of one already
// handled; otherwise it is left to come back after a short, growing delay. A received message stays
// invisible for a few seconds only, extended while its handler runs, so a crash costs little.
import { setTimeout as sleep } from "node:timers/promises";
import { ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import { backoff } from "../../core/backoff.ts";
import { settleWithin } from "../../core/settleWithin.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { EventHandler } from "./interruptionEvent.ts";
import { MessageHandler, type GivenUpHandler } from "./messageHandler.ts";
import { awsErrorText, SqsQueue } from "./queue.ts";
import type { QueueReachability } from "./reachability.ts";

export interface SqsConsumerOptions {
  client: SQSClient;
  queueUrl: string;
  /** Messages handled at once; default 10. */
  concurrency?: number;
  /** Receives sent at once while the queue hands out full batches; default 1. */
  parallelReceives?: number;
  /** How long a received message stays invisible, extended while its handler runs; default 10. */
  visibilityTimeoutSeconds?: number;
  /** Long-polling wait; default 20 (the SQS maximum). */
  waitTimeSeconds?: number;
  log: Logger;
  metrics: Pick<WatcherMetrics, "eventsReceived" | "sqsErrors">;
  handler: EventHandler;
  /** Told of events given up (their last attempt failed). */
  onGivenUp?: GivenUpHandler;
  /** Told of every receive's success or failure. */
  reachability?: Pick<QueueReachability, "succeeded" | "failed" | "stop">;
  /** How long stop() waits for running handlers; default 20 s. */
  stopTimeoutMs?: number;
  /** A failed message comes back after this many seconds times its receive count; default 5. */
  retryDelaySeconds?: number;
  /** ...but never later than this; default 60. */
  maxRetryDelaySeconds?: number;
  /** Wait after a failed receive, doubling up to `maxMs`; default 500 ms to 5 s (the notice is 2 minutes). */
  receiveBackoff?: { initialMs: number; maxMs: number };
  /** Completed event and message ids remembered to recognise repeats; default 10 000 for an hour. */
  completedIds?: { maxSize: number; ttlMs: number };
}

/** How long past its wait time a last poll may take before it is taken for a dead connection. */
const LAST_POLL_SLACK_MS = 5_000;

/** The most messages one receive returns (SQS's limit). */
const BATCH = 10;

const DEFAULTS = {
  concurrency: 10,
  parallelReceives: 1,
  visibilityTimeoutSeconds: 10,
  waitTimeSeconds: 20,
  stopTimeoutMs: 20_000,
  retryDelaySeconds: 5,
  maxRetryDelaySeconds: 60,
  receiveBackoff: { initialMs: 500, maxMs: 5_000 },
  completedIds: { maxSize: 10_000, ttlMs: 3_600_000 },
};

type Options = Required<Omit<SqsConsumerOptions, "onGivenUp" | "reachability">> &
  Pick<SqsConsumerOptions, "onGivenUp" | "reachability">;

export class SqsConsumer {
  private readonly options: Options;
  private readonly log: Logger;
  private readonly queue: SqsQueue;
  private readonly messages: MessageHandler;
  private readonly inFlight = new Set<Promise<void>>();
  private running: Promise<void> | undefined;
  private stopping = false;
  /** Wakes the loop from its waits (for a free slot, after a failed receive) when it is to stop. */
  private wake = new AbortController();
  /** Cancels the receive under way; only abort() does (see stop()). */
  private cancel = new AbortController();
  /** Settles when the loop is woken. */
  private woken: Promise<void> = Promise.resolve();

  constructor(options: SqsConsumerOptions) {
    this.options = {
      ...DEFAULTS,
      ...options,
      concurrency: Math.max(1, options.concurrency ?? DEFAULTS.concurrency),
    };
    this.log = options.log;
    this.queue = new SqsQueue(options.client, options.queueUrl, options.metrics);
    this.messages = new MessageHandler({ ...this.options, queue: this.queue });
  }

  /** Receives until stop() or abort(); resolves when the receive loop has ended. Never rejects. */
  start(): Promise<void> {
    if (this.running) return this.running;
    this.stopping = false;
    this.wake = new AbortController();
    this.cancel = new AbortController();
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
    void this.logRedrivePolicy();
    this.running = this.receiveLoop().finally(() => {
      this.running = undefined;
      this.options.reachability?.stop();
    });
    return this.running;
  }

  /**
   * Stops receiving for a hand-over. The receive under way is let finish: SQS keeps an aborted long poll
   * open on its side and hands it the next message, which would then stay invisible to the next consumer
   * for its visibility timeout. What it returns is released at once. Then waits up to `timeoutMs` for
   * running handlers; returns whether they all finished (the messages of any still running come back).
   */
  async stop(timeoutMs = this.options.stopTimeoutMs): Promise<boolean> {
    this.stopping = true;
    this.wake.abort();
    const [, drained] = await Promise.all([this.lastPoll(), settleWithin([...this.inFlight], timeoutMs)]);
    if (!drained) {
      this.log.warn(
        { running: this.inFlight.size, timeoutMs },
        "handlers still running after stop; their messages will come back",
      );
      await this.messages.stopHeartbeats();
    }
    this.log.info("stopped receiving EC2 events");
    return drained;
  }

  /** The end of the receive loop; a poll that outlasts its wait (a dead connection) is cancelled. */
  private async lastPoll(): Promise<void> {
    const running = this.running;
    if (!running) return;
    const waitMs = this.options.waitTimeSeconds * 1000 + LAST_POLL_SLACK_MS;
    if (!(await settleWithin([running], waitMs))) this.cancel.abort();
    await running;
  }

  /** Stops at once (leadership lost): the receive under way is cancelled, running handlers' messages come back. */
  async abort(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    this.cancel.abort();
    await this.running;
    await this.messages.stopHeartbeats();
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
        messages = await this.receive();
        failures = 0;
        this.options.reachability?.succeeded();
      } catch (err) {
        if (this.cancel.signal.aborted) break;
        failures++;
        this.options.metrics.sqsErrors.inc({ operation: "receive" });
        this.options.reachability?.failed(err);
        const { initialMs, maxMs } = this.options.receiveBackoff;
        const retryInMs = backoff(failures, initialMs, maxMs);
        // the first failure of a run is worth a line; the reachability tells when it lasts
        this.log[failures === 1 ? "warn" : "debug"](
          { err, error: awsErrorText(err), failures, retryInMs },
          "receiving from SQS failed; retrying",
        );
        await sleep(retryInMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
        continue;
      }
      if (this.stopping) {
        await this.queue.release(messages, this.log);
        break;
      }
      this.dispatch(messages);
      // a full batch: more is waiting (a burst), taken by receives sent at once while they come back full
      if (messages.length === BATCH && this.options.parallelReceives > 1) await this.takeBurst();
    }
  }

  /** Hands each message to its handler, counted in flight until it is settled. */
  private dispatch(messages: Message[]): void {
    const receivedAt = Date.now();
    for (const message of messages) {
      const work = this.messages.handle(message, receivedAt).catch((err: unknown) => {
        this.log.error({ err, messageId: message.MessageId }, "handling an SQS message failed unexpectedly");
      });
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }
  }

  /**
   * Takes a burst as fast as SQS hands it over: receives that do not wait, several at once (as many as the
   * free slots fill), each batch handed on as it arrives, until one comes back short. A failure ends the
   * burst; the loop's own receive and its backoff take over.
   */
  private async takeBurst(): Promise<void> {
    for (;;) {
      const free = this.options.concurrency - this.inFlight.size;
      const receives = Math.min(this.options.parallelReceives, Math.floor(free / BATCH));
      if (receives === 0 || this.stopping) return;
      this.log.debug(
        { receives, inFlight: this.inFlight.size },
        "a burst: receiving several batches at once",
      );
      const batches = await Promise.allSettled(
        Array.from({ length: receives }, async () => {
          const messages = await this.receive(0, BATCH);
          if (this.stopping) await this.queue.release(messages, this.log);
          else this.dispatch(messages);
          return messages.length;
        }),
      );
      for (const b of batches) {
        if (b.status === "fulfilled") continue;
        this.options.metrics.sqsErrors.inc({ operation: "receive" });
        this.log.debug({ error: awsErrorText(b.reason) }, "a burst receive failed; back to one long poll");
      }
      if (!batches.every((b) => b.status === "fulfilled" && b.value === BATCH)) return;
    }
  }

  /**
   * One receive. While messages are being handled, it waits a fifth of their visibility timeout at most: if
   * this process dies, SQS keeps its last poll open and would hand it their messages once they are visible
   * again (hiding them for another timeout); a poll that short has ended by then.
   */
  private async receive(
    waitSeconds = this.pollWaitSeconds(),
    max = Math.min(BATCH, this.options.concurrency - this.inFlight.size),
  ): Promise<Message[]> {
    const output = await this.options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.options.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
      { abortSignal: this.cancel.signal },
    );
    return output.Messages ?? [];
  }

  /** A long poll; shorter while messages are being handled (see receive()). */
  private pollWaitSeconds(): number {
    const { waitTimeSeconds, visibilityTimeoutSeconds } = this.options;
    const busyWaitSeconds = Math.max(1, Math.floor(visibilityTimeoutSeconds / 5));
    return this.inFlight.size > 0 ? Math.min(waitTimeSeconds, busyWaitSeconds) : waitTimeSeconds;
  }

  private async logRedrivePolicy(): Promise<void> {
    try {
      const policy = await this.queue.redrivePolicy();
      if (policy)
        this.log.info(policy, "an event that fails this many receives goes to the dead-letter queue");
      else
        this.log.warn(
          "the queue has no dead-letter queue: an event that keeps failing is retried until it expires",
        );
    } catch (err) {
      // the queue may be unreachable: the receives say so
      this.log.debug({ error: awsErrorText(err) }, "could not read the queue's redrive policy yet");
    }
  }
}
