// Slack incoming-webhook alerts: one message per interruption, one summary when it is over, and loud
// problems. Callers never wait: messages go through a queue and are retried on 429/5xx/network errors.
// Beyond the per-minute limit (a storm) they are held and go out together, one digest naming each, as soon
// as the limit allows; only beyond what the queue and the digest hold are they dropped (the next message
// sent says how many).
import { setTimeout as sleep } from "node:timers/promises";
import { backoff } from "../../core/backoff.ts";
import { toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { Alerter, InterruptionAlert, SummaryAlert } from "./alerter.ts";
import { messageFormat, withDroppedNote, type SlackMessage } from "./slackMessages.ts";

export interface SlackAlerterOptions {
  webhookUrl: string;
  /** Messages per minute at most (a sliding minute); 0 means no limit. */
  maxPerMinute: number;
  log: Logger;
  metrics: Pick<WatcherMetrics, "alerts">;
  clusterName?: string | undefined;
  /** Tries per message, the first included; default 5. */
  maxAttempts?: number;
  /** First retry delay, doubling each time; default 1 s. */
  retryBaseMs?: number;
  /** Longest wait between tries, Retry-After included; default 60 s. */
  maxRetryDelayMs?: number;
  /** Per request; default 10 s. */
  requestTimeoutMs?: number;
  /** Messages waiting to be sent at most; more are dropped; default 100. */
  maxQueued?: number;
  /** Messages held back by the per-minute limit for the next digest at most; more are dropped; default 500. */
  maxHeld?: number;
  /** Clock of the rate limit (milliseconds); tests move it. */
  now?: () => number;
}

export class SlackAlerter implements Alerter {
  private readonly queue: { kind: string; message: SlackMessage; droppedBefore: number }[] = [];
  /** Headlines of the messages held back by the per-minute limit, for the next digest. */
  private readonly held: string[] = [];
  private heldTimer: NodeJS.Timeout | undefined;
  private readonly window: SlidingMinute;
  private pumping: Promise<void> | undefined;
  /** Dropped since the last message queued; the next one queued reports them. */
  private droppedSinceLastQueued = 0;
  private readonly options: SlackAlerterOptions;
  private readonly log: Logger;
  private readonly format: ReturnType<typeof messageFormat>;

  constructor(options: SlackAlerterOptions) {
    this.options = options;
    this.log = options.log;
    this.format = messageFormat(options.clusterName);
    this.window = new SlidingMinute(options.maxPerMinute, options.now ?? (() => performance.now()));
  }

  interruption(alert: InterruptionAlert): void {
    this.enqueue("interruption", this.format.interruption(alert));
  }

  summary(summary: SummaryAlert): void {
    this.enqueue("summary", this.format.summary(summary));
  }

  problem(message: string, details?: Record<string, string>): void {
    this.enqueue("problem", this.format.problem(message, details));
  }

  private enqueue(kind: string, message: SlackMessage): void {
    try {
      if (this.queue.length >= (this.options.maxQueued ?? 100)) {
        this.drop(kind, message, "Slack alert dropped: too many waiting to be sent");
        return;
      }
      this.releaseHeld();
      if (!this.window.tryTake()) {
        this.hold(kind, message);
        return;
      }
      this.push(kind, message);
    } catch (err) {
      this.log.error({ err: toError(err) }, "queueing a Slack alert failed");
    }
  }

  private push(kind: string, message: SlackMessage): void {
    this.queue.push({ kind, message, droppedBefore: this.droppedSinceLastQueued });
    this.droppedSinceLastQueued = 0;
    this.pump();
  }

  private drop(kind: string, message: SlackMessage, why: string): void {
    this.droppedSinceLastQueued += 1;
    this.options.metrics.alerts.inc({ result: "dropped" });
    this.log.warn({ alert: kind, text: message.text }, why);
  }

  /** Over the per-minute limit: kept for the next digest, which goes out when the limit allows. */
  private hold(kind: string, message: SlackMessage): void {
    if (this.held.length >= (this.options.maxHeld ?? 500)) {
      this.drop(
        kind,
        message,
        "Slack alert dropped: over the alerts per minute limit, and the digest is full",
      );
      return;
    }
    this.held.push(message.text);
    this.options.metrics.alerts.inc({ result: "held" });
    this.log.info(
      { alert: kind, text: message.text },
      "Slack alert held: over the alerts per minute limit; it goes in the next digest",
    );
    if (this.heldTimer === undefined) {
      this.heldTimer = setTimeout(
        () => {
          this.heldTimer = undefined;
          this.releaseHeld();
        },
        Math.max(1_000, this.window.nextFreeInMs()),
      );
      this.heldTimer.unref();
    }
  }

  /** Sends the held messages as one digest, when the limit allows (`force`: at a stop, whatever the limit). */
  private releaseHeld(force = false): void {
    if (this.held.length === 0 || !(this.window.tryTake() || force)) return;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.push("digest", this.format.digest(this.held.splice(0)));
  }

  async flush(timeoutMs: number): Promise<boolean> {
    this.releaseHeld(true);
    const deadline = performance.now() + timeoutMs;
    while (this.pumping) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const timer = new AbortController();
      await Promise.race([
        this.pumping,
        sleep(left, undefined, { signal: timer.signal }).catch(() => undefined),
      ]);
      timer.abort();
    }
    return this.pumping === undefined && this.queue.length === 0;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = this.drain().finally(() => {
      this.pumping = undefined;
      if (this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      const delivered = await this.deliver(next.kind, withDroppedNote(next.message, next.droppedBefore));
      if (!delivered && next.droppedBefore > 0) {
        // Nobody heard about those drops yet: the next message tells.
        if (this.queue[0]) this.queue[0].droppedBefore += next.droppedBefore;
        else this.droppedSinceLastQueued += next.droppedBefore;
      }
    }
  }

  /** Posts one message, retrying what may succeed later; true when Slack took it. */
  private async deliver(kind: string, message: SlackMessage): Promise<boolean> {
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 5);
    const maxDelay = this.options.maxRetryDelayMs ?? 60_000;
    const body = JSON.stringify(message);
    const log = this.log.child({ alert: kind });
    for (let attempt = 1; ; attempt++) {
      let problem: string;
      let retryAfterMs: number | undefined;
      try {
        // The URL is a secret: it never appears in logs.
        const response = await fetch(this.options.webhookUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
        });
        const answer = (await response.text().catch(() => "")).slice(0, 200);
        if (response.ok) {
          this.options.metrics.alerts.inc({ result: "sent" });
          log.debug({ attempt }, "Slack alert sent");
          return true;
        }
        problem = `HTTP ${response.status}${answer ? `: ${answer}` : ""}`;
        if (response.status !== 429 && response.status < 500) {
          // Slack answers 400/403/404 for a bad payload, a revoked or a wrong webhook: retrying will not help.
          return this.failed(log, message, problem, attempt);
        }
        retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      } catch (err) {
        problem = toError(err).message;
      }
      if (attempt >= maxAttempts) return this.failed(log, message, problem, attempt);
      const delayMs = Math.min(
        retryAfterMs ?? backoff(attempt, this.options.retryBaseMs ?? 1_000, maxDelay),
        maxDelay,
      );
      log.warn({ attempt, problem, retryInMs: delayMs }, "Slack alert not delivered; retrying");
      await sleep(delayMs, undefined, { ref: false });
    }
  }

  private failed(log: Logger, message: SlackMessage, problem: string, attempts: number): false {
    this.options.metrics.alerts.inc({ result: "failed" });
    log.error({ problem, attempts, text: message.text }, "Slack alert could not be delivered");
    return false;
  }
}

/** Counts what was taken in the last minute; unlike a token bucket, a refusal costs nothing. */
class SlidingMinute {
  private readonly taken: number[] = [];
  private readonly limit: number;
  private readonly now: () => number;

  constructor(limit: number, now: () => number) {
    this.limit = limit;
    this.now = now;
  }

  /** How long until the oldest message taken leaves the minute (0 with room now or without a limit). */
  nextFreeInMs(): number {
    if (this.limit <= 0 || this.taken.length < this.limit) return 0;
    return Math.max(0, this.taken[0]! + 60_000 - this.now());
  }

  tryTake(): boolean {
    if (this.limit <= 0) return true;
    const now = this.now();
    while (this.taken.length > 0 && this.taken[0]! <= now - 60_000) this.taken.shift();
    if (this.taken.length >= this.limit) return false;
    this.taken.push(now);
    return true;
  }
}

/** Seconds (`120`) or an HTTP date; undefined when absent or nonsense. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
