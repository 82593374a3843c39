// The SQS client, and the message operations on one queue that the consumer and its visibility heartbeat
// share: each failure is counted (`sqs_errors_total{operation}`) and logged, never thrown, because the
// message then simply comes back.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import type { Config } from "../../core/config.ts";
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";

/** The SQS client of the watcher and the CLI: region and endpoint from the config, credentials from the default chain. */
export function createSqsClient(config: Pick<Config, "aws">): SQSClient {
  return new SQSClient({
    region: config.aws.region,
    ...(config.aws.sqsEndpointUrl ? { endpoint: config.aws.sqsEndpointUrl } : {}),
    // Long polls keep the socket quiet for up to 20 s; anything quieter for longer is a dead connection.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 35_000 },
  });
}

export class SqsQueue {
  readonly client: SQSClient;
  readonly url: string;
  private readonly metrics: Pick<WatcherMetrics, "sqsErrors">;

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
}
