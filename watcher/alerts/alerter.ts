// What an alert says and who can be told it (Slack, see slack.ts; the log otherwise: below). Alerts are never
// awaited on the migration path and never throw.
import type { Logger } from "../../core/log.ts";
import { keyOf, type DeploymentRef } from "../moves/deployments.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";

export interface InterruptionAlert {
  event: InterruptionEvent;
  node: string;
  /** Moving to Fargate. */
  deployments: DeploymentRef[];
  /** Moving to on-demand nodes instead of Fargate (the fallback), and why not Fargate. */
  onDemand?: { deployment: DeploymentRef; why: string }[];
  skipped: { deployment: DeploymentRef; why: string }[];
  /** The Fargate budget's use once these moves are done, when there is a budget. */
  budget?: string;
  dryRun: boolean;
}

export interface SummaryAlert {
  title: string;
  ok: boolean;
  lines: string[];
  eventId?: string | undefined;
}

export interface Alerter {
  /** One message per interruption: the Deployments moving and those skipped. */
  interruption(alert: InterruptionAlert): void;
  /** One summary when every Deployment of an interruption is resolved (healthy) or failed. */
  summary(summary: SummaryAlert): void;
  /** A loud, single alert (failed move, incompatible workload, rollback). */
  problem(message: string, details?: Record<string, string>): void;
  /** Waits until every queued alert is sent or given up, at most `timeoutMs`; false when some are left. */
  flush(timeoutMs: number): Promise<boolean>;
}

/** Alerts as log lines, when Slack is off. */
export class LogAlerter implements Alerter {
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  interruption({
    event,
    node,
    deployments,
    onDemand = [],
    skipped,
    budget,
    dryRun,
  }: InterruptionAlert): void {
    const why = (s: { deployment: DeploymentRef; why: string }) => `${keyOf(s.deployment)}: ${s.why}`;
    this.log.info(
      {
        alert: "interruption",
        eventId: event.id,
        instanceId: event.instanceId,
        node,
        deployments: deployments.map(keyOf),
        onDemand: onDemand.map(why),
        skipped: skipped.map(why),
        budget,
        dryRun,
      },
      "interruption alert (Slack off)",
    );
  }

  summary({ title, ok, lines, eventId }: SummaryAlert): void {
    this.log.info({ alert: "summary", ok, lines, eventId }, `${title} (Slack off)`);
  }

  problem(message: string, details?: Record<string, string>): void {
    this.log.warn({ alert: "problem", ...details }, `${message} (Slack off)`);
  }

  async flush(): Promise<boolean> {
    return true;
  }
}
