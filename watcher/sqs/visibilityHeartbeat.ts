// Keeps a received message invisible to other consumers while its handler is still running, by
// extending its visibility timeout at half the timeout.
import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";

export interface VisibilityHeartbeatOptions {
  client: SQSClient;
  queueUrl: string;
  receiptHandle: string;
  visibilityTimeoutSeconds: number;
  log: Logger;
  metrics: Pick<WatcherMetrics, "sqsErrors">;
}

export class VisibilityHeartbeat {
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(options: VisibilityHeartbeatOptions) {
    const { client, queueUrl, receiptHandle, visibilityTimeoutSeconds, log, metrics } = options;
    const extend = async () => {
      try {
        await client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: visibilityTimeoutSeconds,
          }),
        );
        log.debug({ visibilityTimeoutSeconds }, "extended the message's visibility");
      } catch (err) {
        metrics.sqsErrors.inc({ operation: "change-visibility" });
        log.warn({ err }, "could not extend the message's visibility; another consumer may receive it");
      }
    };
    this.timer = setInterval(
      () => {
        // One extension at a time: a slow call must not pile up behind the next tick.
        if (this.stopped || this.inFlight) return;
        this.inFlight = extend().finally(() => (this.inFlight = undefined));
      },
      (visibilityTimeoutSeconds * 1000) / 2,
    );
  }

  /** Stops extending and waits for an extension already sent, so nothing lands after the caller's own change. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.inFlight;
  }
}
