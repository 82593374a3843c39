// An SQS consumer in a process of its own, as the leader runs it, so a test can stop it as Kubernetes does
// (SIGTERM: a graceful stop, then exit) or kill it as a crash would (SIGKILL).
// Usage: node test/sqs/consumerProcess.ts <queue URL> <endpoint> <handle|hold>
// `handle` returns at once; `hold` never returns. Logs JSON lines; "handler called" carries the event id.
import { createLogger } from "../../core/log.ts";
import { createWatcherMetrics } from "../../watcher/metrics.ts";
import { SqsConsumer } from "../../watcher/sqs/consumer.ts";
import { createSqsClient } from "../../watcher/sqs/queue.ts";
import { emulatorRegion } from "../../harness/sqs/emulator.ts";

const [queueUrl, endpoint, mode] = process.argv.slice(2);
if (!queueUrl || !endpoint || (mode !== "handle" && mode !== "hold")) {
  process.stderr.write("usage: consumerProcess.ts <queue URL> <endpoint> <handle|hold>\n");
  process.exit(2);
}

const log = createLogger({ level: "debug", format: "json" });
const client = createSqsClient({ aws: { region: emulatorRegion, sqsEndpointUrl: endpoint } });
const consumer = new SqsConsumer({
  client,
  queueUrl,
  log,
  metrics: createWatcherMetrics(),
  handler: async (event) => {
    log.info({ eventId: event.id }, "handler called");
    if (mode === "hold") await new Promise(() => undefined);
  },
});
process.on("SIGTERM", () => {
  void consumer.stop(1_000).then(() => {
    client.destroy();
    process.exit(0);
  });
});
await consumer.start();
