// Slack incoming-webhook alerts: one message per interruption, one summary when it is over, and loud
// problems. Callers never wait: messages go through a queue, are retried on 429/5xx/network errors,
// and beyond the per-minute limit are dropped (the next message sent says how many).
import { setTimeout as sleep } from "node:timers/promises";
import { backoff } from "../../core/backoff.ts";
import { toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { Alerter, AffectedDeployment, Ec2Event, EventKind } from "../types.ts";

export interface SlackAlerterOptions {
  webhookUrl: string;
  enabled: boolean;
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
  /** Clock of the rate limit (milliseconds); tests move it. */
  now?: () => number;
}

export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
}

type SlackText = { type: "mrkdwn" | "plain_text"; text: string };
type SlackBlock =
  | { type: "header"; text: SlackText }
  | { type: "section"; text?: SlackText; fields?: SlackText[] }
  | { type: "context"; elements: SlackText[] };

export interface SlackAlerter extends Alerter {
  /** Waits until every queued message is sent or given up, at most `timeoutMs`; false when some are left. */
  flush(timeoutMs: number): Promise<boolean>;
}

export function createSlackAlerter(options: SlackAlerterOptions): SlackAlerter {
  const log = options.log.child({ component: "slack" });
  if (!options.enabled || options.webhookUrl === "") {
    log.info({ enabled: options.enabled }, "Slack alerts are off; alerts are only logged");
    return loggingAlerter(log);
  }
  const format = messageFormat(options.clusterName);
  const sender = new SlackSender(options, log);
  return {
    interruption: (alert) => sender.enqueue("interruption", format.interruption(alert)),
    summary: (summary) => sender.enqueue("summary", format.summary(summary)),
    problem: (message, details) => sender.enqueue("problem", format.problem(message, details)),
    flush: (timeoutMs) => sender.flush(timeoutMs),
  };
}

class SlackSender {
  private readonly queue: { kind: string; message: SlackMessage; droppedBefore: number }[] = [];
  private readonly window: SlidingMinute;
  private pumping: Promise<void> | undefined;
  /** Dropped since the last message queued; the next one queued reports them. */
  private droppedSinceLastQueued = 0;
  private readonly options: SlackAlerterOptions;
  private readonly log: Logger;

  constructor(options: SlackAlerterOptions, log: Logger) {
    this.options = options;
    this.log = log;
    this.window = new SlidingMinute(options.maxPerMinute, options.now ?? (() => performance.now()));
  }

  enqueue(kind: string, message: SlackMessage): void {
    try {
      if (this.queue.length >= (this.options.maxQueued ?? 100) || !this.window.tryTake()) {
        this.droppedSinceLastQueued += 1;
        this.options.metrics.alerts.inc({ result: "dropped" });
        this.log.warn(
          { alert: kind, text: message.text },
          "Slack alert dropped: over the alerts per minute limit",
        );
        return;
      }
      this.queue.push({ kind, message, droppedBefore: this.droppedSinceLastQueued });
      this.droppedSinceLastQueued = 0;
      this.pump();
    } catch (err) {
      this.log.error({ err: toError(err) }, "queueing a Slack alert failed");
    }
  }

  async flush(timeoutMs: number): Promise<boolean> {
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

function withDroppedNote(message: SlackMessage, dropped: number): SlackMessage {
  if (dropped === 0) return message;
  const note = `${dropped} earlier alert${dropped === 1 ? " was" : "s were"} dropped by the alerts per minute limit (ALERTS_MAX_PER_MINUTE); see the watcher's logs.`;
  return {
    text: `${message.text}\n(${note})`,
    blocks: [...(message.blocks ?? []), { type: "context", elements: [mrkdwn(`:warning: ${note}`)] }],
  };
}

function loggingAlerter(log: Logger): SlackAlerter {
  return {
    interruption: ({ event, node, deployments, skipped, dryRun }) =>
      log.info(
        {
          alert: "interruption",
          eventId: event.id,
          instanceId: event.instanceId,
          node,
          deployments: deployments.map(qualified),
          skipped: skipped.map((s) => `${qualified(s.deployment)}: ${s.why}`),
          dryRun,
        },
        "interruption alert (Slack off)",
      ),
    summary: ({ title, ok, lines, eventId }) =>
      log.info({ alert: "summary", ok, lines, eventId }, `${title} (Slack off)`),
    problem: (message, details) => log.warn({ alert: "problem", ...details }, `${message} (Slack off)`),
    flush: async () => true,
  };
}

// --- message layout -----------------------------------------------------------------------------

const HEADLINES: Record<EventKind, { emoji: string; title: string }> = {
  "spot-interruption": { emoji: ":rotating_light:", title: "Spot interruption warning" },
  "rebalance-recommendation": { emoji: ":warning:", title: "Rebalance recommendation" },
  "instance-stopping": { emoji: ":rotating_light:", title: "Instance stopping" },
};

const MAX_LISTED = 20;
const DRY_RUN = "[DRY RUN] ";

export function messageFormat(clusterName?: string) {
  const cluster = clusterName ? ` in *${escape(clusterName)}*` : "";
  const clusterPlain = clusterName ? ` in ${clusterName}` : "";
  return {
    interruption(alert: Parameters<Alerter["interruption"]>[0]): SlackMessage {
      const { event, node, deployments, skipped, dryRun } = alert;
      const { emoji, title } = HEADLINES[event.kind];
      const dry = dryRun ? DRY_RUN : "";
      const moving = `${deployments.length} Deployment${deployments.length === 1 ? "" : "s"} ${dryRun ? "would move" : "moving"} to Fargate`;
      const skipNote = skipped.length > 0 ? `, ${skipped.length} skipped` : "";
      const blocks: SlackBlock[] = [
        section(`${emoji} *${dry}${title}*${cluster}: node \`${escape(node)}\` — ${moving}${skipNote}`),
        {
          type: "section",
          fields: [
            mrkdwn(`*Node*\n\`${escape(node)}\``),
            mrkdwn(
              `*Instance*\n\`${escape(event.instanceId)}\`${event.region ? ` (${escape(event.region)})` : ""}`,
            ),
            mrkdwn(`*Deadline*\n${deadline(event)}`),
            mrkdwn(`*Event*\n${escape(event.detailType)}\n\`${escape(event.id)}\``),
          ],
        },
      ];
      if (deployments.length > 0) {
        blocks.push(
          section(
            `*${dryRun ? "Would move" : "Moving"} to Fargate*\n${bullets(deployments.map((d) => `\`${escape(qualified(d))}\``))}`,
          ),
        );
      }
      if (skipped.length > 0) {
        blocks.push(
          section(
            `*Skipped*\n${bullets(skipped.map((s) => `\`${escape(qualified(s.deployment))}\`: ${escape(s.why)}`))}`,
          ),
        );
      }
      if (dryRun) blocks.push(context(":information_source: Dry run: no Deployment was changed."));
      return {
        text: `${emoji} ${dry}${title}${clusterPlain}: node ${node} (${event.instanceId}), ${moving}${skipNote}${event.deadline ? `; reclaimed at ${event.deadline.toISOString()}` : ""}`,
        blocks,
      };
    },

    summary({ title, ok, lines, eventId }: Parameters<Alerter["summary"]>[0]): SlackMessage {
      const emoji = ok ? ":white_check_mark:" : ":x:";
      const blocks: SlackBlock[] = [section(`${emoji} *${escape(title)}*${cluster}`)];
      if (lines.length > 0) blocks.push(section(bullets(lines.map(escape))));
      if (eventId) blocks.push(context(`Event \`${escape(eventId)}\``));
      return { text: `${emoji} ${title}${clusterPlain}`, blocks };
    },

    problem(message: string, details: Record<string, string> = {}): SlackMessage {
      const blocks: SlackBlock[] = [
        { type: "header", text: { type: "plain_text", text: truncate(`:x: Problem${clusterPlain}`, 150) } },
        section(`*${escape(message)}*`),
      ];
      const fields = Object.entries(details).map(([k, v]) =>
        mrkdwn(truncate(`*${escape(k)}*\n${escape(v)}`, 2000)),
      );
      // Slack takes at most 10 fields a section.
      for (let i = 0; i < fields.length; i += 10)
        blocks.push({ type: "section", fields: fields.slice(i, i + 10) });
      return { text: `:x: Problem${clusterPlain}: ${message}`, blocks };
    },
  };
}

function deadline(event: Ec2Event): string {
  if (!event.deadline) return "not given";
  const seconds = Math.floor(event.deadline.getTime() / 1000);
  // Slack shows the date in the reader's time zone; the ISO time is the fallback.
  return `<!date^${seconds}^{date_short_pretty} {time_secs}|${event.deadline.toISOString()}>`;
}

function qualified(deployment: AffectedDeployment): string {
  return `${deployment.namespace}/${deployment.name}`;
}

function bullets(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).map((item) => `• ${item}`);
  if (items.length > MAX_LISTED) shown.push(`…and ${items.length - MAX_LISTED} more`);
  return shown.join("\n");
}

function section(text: string): SlackBlock {
  return { type: "section", text: mrkdwn(truncate(text, 3000)) };
}

function context(text: string): SlackBlock {
  return { type: "context", elements: [mrkdwn(text)] };
}

function mrkdwn(text: string): SlackText {
  return { type: "mrkdwn", text };
}

/** Slack's mrkdwn control characters. */
function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
