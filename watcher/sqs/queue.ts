// The SQS client, and the operations on one queue that the consumer and its visibility heartbeat share:
// message deletes and visibility changes (each failure counted as `sqs_errors_total{operation}` and logged,
// never thrown, because the message then simply comes back), and the queue's redrive policy.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import type { Config } from "../../core/config.ts";
import { toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";

/**
 * The SQS client of the watcher and the CLI: region and endpoint from the config (no region: the SDK's own
 * chain, e.g. a profile's), credentials from the default chain.
 */
export function createSqsClient(config: {
  aws: Pick<Config["aws"], "region" | "sqsEndpointUrl">;
}): SQSClient {
  const { region, sqsEndpointUrl } = config.aws;
  return new SQSClient({
    ...(region ? { region } : {}),
    ...(sqsEndpointUrl ? { endpoint: sqsEndpointUrl } : {}),
    // Long polls keep the socket quiet for up to 20 s; anything quieter for longer is a dead connection.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 35_000 },
  });
}

/** An AWS SDK error as users need it: its code, message and HTTP status (`QueueDoesNotExist: ... (HTTP 400)`). */
export function awsErrorText(err: unknown): string {
  const error = toError(err);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const message = error.message.split("\n")[0] || "(no message)";
  const text = error.name && error.name !== "Error" ? `${error.name}: ${message}` : message;
  return status === undefined ? text : `${text} (HTTP ${status})`;
}

export interface RedrivePolicy {
  maxReceiveCount: number;
  deadLetterTargetArn: string;
}

export class SqsQueue {
  readonly client: SQSClient;
  readonly url: string;
  private readonly metrics: Pick<WatcherMetrics, "sqsErrors">;
  private redrive: Promise<RedrivePolicy | undefined> | undefined;

  constructor(client: SQSClient, url: string, metrics: Pick<WatcherMetrics, "sqsErrors">) {
    this.client = client;
    this.url = url;
    this.metrics = metrics;
  }

  /** Deletes a handled message; false (logged) when SQS refused, and the message comes back. */
  async delete(message: Message, log: Logger): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: message.ReceiptHandle }),
      );
      return true;
    } catch (err) {
      // It comes back; the consumer's completed ids make the next delivery a plain delete.
      this.metrics.sqsErrors.inc({ operation: "delete" });
      log.error({ err }, "deleting the SQS message failed; it will be received again");
      return false;
    }
  }

  /** Makes the message invisible for `seconds` from now; false, logged with `onFailure`, when SQS refused. */
  async changeVisibility(
    message: Message,
    seconds: number,
    log: Logger,
    onFailure: string,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
      return true;
    } catch (err) {
      this.metrics.sqsErrors.inc({ operation: "change-visibility" });
      log.warn({ err }, onFailure);
      return false;
    }
  }

  /** Makes messages received but not to be handled here visible to the next consumer at once. */
  async release(messages: Message[], log: Logger): Promise<void> {
    if (messages.length === 0) return;
    const failure = "could not release a message; it comes back after its visibility timeout";
    await Promise.all(messages.map((m) => this.changeVisibility(m, 0, log, failure)));
    log.info(
      { messageIds: messages.map((m) => m.MessageId) },
      "released the messages of the last receive; the next consumer gets them at once",
    );
  }

  /**
   * The queue's redrive policy (undefined without one), read once; a failed read is tried again on the
   * next call. Throws what SQS answered.
   */
  redrivePolicy(): Promise<RedrivePolicy | undefined> {
    this.redrive ??= this.readRedrivePolicy().catch((err: unknown) => {
      this.redrive = undefined;
      this.metrics.sqsErrors.inc({ operation: "get-queue-attributes" });
      throw err;
    });
    return this.redrive;
  }

  private async readRedrivePolicy(): Promise<RedrivePolicy | undefined> {
    const { Attributes = {} } = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: ["RedrivePolicy"] }),
    );
    return parseRedrivePolicy(Attributes["RedrivePolicy"]);
  }
}

/** The `RedrivePolicy` attribute (JSON text); undefined when absent or unreadable. */
export function parseRedrivePolicy(text: string | undefined): RedrivePolicy | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { maxReceiveCount?: unknown; deadLetterTargetArn?: unknown };
    const maxReceiveCount = Number(value.maxReceiveCount);
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1) return undefined;
    if (typeof value.deadLetterTargetArn !== "string") return undefined;
    return { maxReceiveCount, deadLetterTargetArn: value.deadLetterTargetArn };
  } catch {
    return undefined;
  }
}
