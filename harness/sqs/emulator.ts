// The SQS emulator (fauxqs) in this process, on a free 127.0.0.1 port, for tests that drive the real
// @aws-sdk/client-sqs against it. Queues live in memory: a restarted emulator starts empty.
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { buildApp } from "fauxqs";

export const emulatorRegion = "us-east-1";

/** The emulator accepts any credentials; the SDK's default chain reads these. */
export function useDummyAwsCredentials(): void {
  process.env["AWS_ACCESS_KEY_ID"] ??= "test";
  process.env["AWS_SECRET_ACCESS_KEY"] ??= "test";
}

export interface SqsEmulator {
  /** `http://127.0.0.1:<port>`: the SQS endpoint override (AWS_ENDPOINT_URL_SQS). */
  readonly endpoint: string;
  readonly port: number;
  /** Creates (or finds) a queue; returns its URL. Attributes as SQS names them, e.g. `{ VisibilityTimeout: "2" }`. */
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  /** A new SQS client for this emulator with dummy credentials; the caller destroys it. */
  client(): SQSClient;
  /** Stops listening and drops open connections, as an outage would. */
  stop(): Promise<void>;
}

export interface SqsEmulatorOptions {
  /** Listen on this port (to restart an emulator where clients expect it); a free one by default. */
  port?: number;
}

export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const app = buildApp({ logger: false, defaultRegion: emulatorRegion });
  await app.listen({ host: "127.0.0.1", port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("fauxqs is not listening on TCP");
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = () =>
    new SQSClient({
      region: emulatorRegion,
      endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  const admin = client();
  let stopped = false;
  return {
    endpoint,
    port: address.port,
    async createQueue(name, attributes) {
      const output = await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      if (!output.QueueUrl) throw new Error(`fauxqs created queue ${name} without a URL`);
      return output.QueueUrl;
    },
    client,
    async stop() {
      if (stopped) return;
      stopped = true;
      admin.destroy();
      await app.close();
    },
  };
}
