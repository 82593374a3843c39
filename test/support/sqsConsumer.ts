// Shared pieces of the SQS integration tests: a consumer on an emulator queue with its metrics and
// captured logs, queue depth, and metric readings.
import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { pino, type Logger } from "pino";
import { createWatcherMetrics, type WatcherMetrics } from "../../watcher/metrics.ts";
import { SqsConsumer, type SqsConsumerOptions } from "../../watcher/sqs/consumer.ts";
import { createSqsClient } from "../../watcher/sqs/queue.ts";
import type { EventHandler } from "../../watcher/sqs/interruptionEvent.ts";
import { emulatorRegion, useDummyAwsCredentials, type SqsEmulator } from "../../harness/sqs/emulator.ts";

export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A debug-level logger that keeps its lines for assertions. */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: "debug" },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

export function uniqueQueueName(prefix = "events"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TestConsumer {
  consumer: SqsConsumer;
  /** The receive loop: settles when the consumer stops receiving. */
  loop: Promise<void>;
  client: SQSClient;
  metrics: WatcherMetrics;
  lines: LogLine[];
  /** Stops the consumer at once (if still running) and closes its client. */
  close(): Promise<void>;
}

/** A consumer as the watcher builds it: the client from the config (endpoint override), default credentials chain. */
export function startTestConsumer(
  emulator: Pick<SqsEmulator, "endpoint">,
  queueUrl: string,
  handler: EventHandler,
  options: Partial<SqsConsumerOptions> = {},
): TestConsumer {
  useDummyAwsCredentials();
  const client = createSqsClient({
    aws: { region: emulatorRegion, sqsEndpointUrl: emulator.endpoint },
  });
  const metrics = createWatcherMetrics();
  const { log, lines } = capturingLogger();
  const consumer = new SqsConsumer({ client, queueUrl, log, metrics, handler, ...options });
  const loop = consumer.start();
  return {
    consumer,
    loop,
    client,
    metrics,
    lines,
    async close() {
      await consumer.abort();
      client.destroy();
    },
  };
}

export async function send(client: SQSClient, queueUrl: string, body: unknown): Promise<string> {
  const output = await client.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return output.MessageId ?? "";
}

/** Messages in the queue: visible, in flight and delayed. */
export async function queueDepth(client: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes: attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return Object.values(attributes).reduce((sum, value) => sum + Number(value), 0);
}

export async function counterValue(
  counter: WatcherMetrics["eventsReceived"] | WatcherMetrics["sqsErrors"] | WatcherMetrics["alerts"],
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k as keyof typeof v.labels] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A promise with its resolve, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
