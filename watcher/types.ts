// What the SQS side hands the cluster side, and what both tell people through.
import type { Logger } from "../core/log.ts";

export type EventKind = "spot-interruption" | "rebalance-recommendation" | "instance-stopping";

/** One EC2 event from EventBridge, parsed from the SQS body (direct, or wrapped in an SNS notification). */
export interface Ec2Event {
  /** EventBridge event id. */
  id: string;
  kind: EventKind;
  /** EventBridge `detail-type` as received. */
  detailType: string;
  instanceId: string;
  region: string;
  account: string;
  /** When AWS emitted the event. */
  time: Date;
  /** When the instance will be reclaimed (spot interruption: `instance-action-time`), if known. */
  deadline?: Date | undefined;
  /** Instance state for state-change notifications (`stopping`, `shutting-down`). */
  state?: string | undefined;
}

/** Handles one event; throws RetryableError to leave the message, PermanentError to delete and count it. */
export type EventHandler = (event: Ec2Event, context: { log: Logger; receivedAt: number }) => Promise<void>;

export interface AffectedDeployment {
  namespace: string;
  name: string;
}

/** Slack (or any chat) notifications. Never awaited on the migration path; never throws. */
export interface Alerter {
  interruption(alert: {
    event: Ec2Event;
    node: string;
    deployments: AffectedDeployment[];
    skipped: { deployment: AffectedDeployment; why: string }[];
    dryRun: boolean;
  }): void;
  /** One summary when every Deployment of an interruption is resolved (healthy) or failed. */
  summary(summary: { title: string; ok: boolean; lines: string[]; eventId?: string | undefined }): void;
  /** A loud, single alert (failed move, incompatible workload, rollback). */
  problem(message: string, details?: Record<string, string>): void;
}
