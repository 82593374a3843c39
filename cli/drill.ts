// `spot-orchestrator drill --node N`: sends a realistic EC2 event for one node through the configured
// queue, so the whole path (EventBridge shape → SQS → watcher → Fargate) can be rehearsed on demand.
import { parseArgs } from "node:util";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { ApiException, type V1Node } from "@kubernetes/client-node";
import { loadConfig } from "../core/config.ts";
import { formatDuration, parseDuration } from "../core/duration.ts";
import { toError } from "../core/errors.ts";
import { createKube } from "../core/kube.ts";
import { createSqsClient } from "../watcher/sqs/queue.ts";
import { instanceIdOf as instanceIdOfNode, parseProviderId } from "../core/ec2.ts";
import { buildEventBridgeEvent, type EventBridgeEvent } from "../watcher/sqs/eventBuilder.ts";
import { EVENT_KINDS, type EventKind } from "../watcher/sqs/interruptionEvent.ts";

const KINDS: readonly EventKind[] = EVENT_KINDS;

const USAGE = `Usage: spot-orchestrator drill --node <name> [flags]

Sends an EC2 event for the node's instance to the watcher's queue, shaped like the ones EventBridge sends.

Flags:
  --node <name>         the Node to "interrupt" (required)
  --type <type>         ${KINDS.join(" | ")} (default spot-interruption);
                        asg-termination names a lifecycle action Auto Scaling never started, so
                        completing it fails (logged by the watcher as no longer pending)
  --deadline <duration> spot-interruption: writes instance-action-time, which real warnings leave out
                        (the watcher then counts 2 minutes from the event's time);
                        capacity-reservation-interruption: instance-termination-time; scheduled-change:
                        when the change starts (default 14 days)
  --account <id>        AWS account id written into the event (default 000000000000)
  --kubeconfig <path>   kubeconfig to read the Node with (default: KUBECONFIG, ~/.kube/config, in-cluster)
  --config <path>       config.toml (default: CONFIG_FILE or ./config.toml); the queue is aws.sqs_queue_url
                        (SQS_QUEUE_URL), the endpoint override aws.sqs_endpoint_url (AWS_ENDPOINT_URL_SQS)`;

export interface DrillOptions {
  node: string;
  kind: EventKind;
  deadlineMs: number | undefined;
  account: string | undefined;
  kubeconfig: string | undefined;
  configFile: string | undefined;
}

export interface DrillIo {
  out: (line: string) => void;
  env: Record<string, string | undefined>;
  now: () => Date;
  /** Reads the Node; from the cluster of the kubeconfig by default. */
  readNode?: (name: string, kubeconfig: string | undefined) => Promise<V1Node>;
}

export async function drillCommand(argv: string[]): Promise<void> {
  await runDrill(argv, { out: (line) => console.log(line), env: process.env, now: () => new Date() });
}

export async function runDrill(argv: string[], io: DrillIo): Promise<void> {
  const options = parseDrillArgs(argv);
  if (options === "help") {
    io.out(USAGE);
    return;
  }
  const config = loadConfig({ file: options.configFile, env: io.env });
  const queueUrl = config.aws.sqsQueueUrl;
  if (queueUrl === "") {
    throw new Error("no queue to send to: set aws.sqs_queue_url in the config file or SQS_QUEUE_URL");
  }

  const node = await (io.readNode ?? readNodeFromCluster)(options.node, options.kubeconfig);
  const now = io.now();
  const { deadlineMs } = options;
  const event = eventForNode(node, {
    kind: options.kind,
    time: now,
    ...(deadlineMs === undefined ? {} : { deadline: new Date(now.getTime() + deadlineMs) }),
    account: options.account,
  });

  const client = createSqsClient(config);
  try {
    const sent = await client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }),
    );
    io.out(`sent ${event["detail-type"]} for node ${options.node}`);
    io.out(`  event id:   ${event.id}`);
    io.out(`  instance:   ${instanceIdOfNode(node)} (${event.region})`);
    if (deadlineMs !== undefined) io.out(`  deadline:   in ${formatDuration(deadlineMs)}`);
    io.out(`  queue:      ${queueUrl}`);
    io.out(`  message id: ${sent.MessageId ?? "(none)"}`);
    io.out(`Follow it with: kubectl get deployments -A -L spot-orchestrator.io/compute -w`);
  } catch (err) {
    throw new Error(`sending the event to ${queueUrl} failed: ${toError(err).message}`, { cause: err });
  } finally {
    client.destroy();
  }
}

export function parseDrillArgs(argv: string[]): DrillOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        node: { type: "string" },
        type: { type: "string", default: "spot-interruption" },
        deadline: { type: "string" },
        account: { type: "string" },
        kubeconfig: { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${toError(err).message}\n\n${USAGE}`, { cause: err });
  }
  if (values.help) return "help";
  if (!values.node) throw new Error(`--node is required\n\n${USAGE}`);
  if (!KINDS.includes(values.type as EventKind)) {
    throw new Error(`--type "${values.type}" is not allowed; allowed values: ${KINDS.join(", ")}`);
  }
  let deadlineMs: number | undefined;
  try {
    deadlineMs = values.deadline === undefined ? undefined : parseDuration(values.deadline);
  } catch (err) {
    throw new Error(`--deadline: ${toError(err).message}`, { cause: err });
  }
  if (values.account !== undefined && !/^\d{12}$/.test(values.account)) {
    throw new Error(`--account "${values.account}" is not an AWS account id (12 digits)`);
  }
  return {
    node: values.node,
    kind: values.type as EventKind,
    deadlineMs,
    account: values.account,
    kubeconfig: values.kubeconfig,
    configFile: values.config,
  };
}

/** The event AWS would send for this Node's instance; an error naming the Node when it is not an EC2 one. */
export function eventForNode(
  node: V1Node,
  options: { kind: EventKind; time: Date; deadline?: Date; account?: string | undefined },
): EventBridgeEvent {
  const name = node.metadata?.name ?? "(unnamed)";
  const providerId = node.spec?.providerID;
  const instance = parseProviderId(providerId);
  if (!instance) {
    throw new Error(
      `node ${name} is not an EC2 instance: its spec.providerID is ${providerId ? `"${providerId}"` : "not set"}, ` +
        `expected aws:///<availability-zone>/<instance-id>`,
    );
  }
  return buildEventBridgeEvent({
    kind: options.kind,
    instanceId: instance.instanceId,
    region: instance.region,
    time: options.time,
    ...(options.deadline ? { deadline: options.deadline } : {}),
    ...(options.account ? { account: options.account } : {}),
  });
}

async function readNodeFromCluster(name: string, kubeconfig: string | undefined): Promise<V1Node> {
  let kube;
  try {
    kube = createKube({ kubeconfig });
  } catch (err) {
    throw new Error(`loading the kubeconfig ${kubeconfig ?? "(default)"} failed: ${toError(err).message}`, {
      cause: err,
    });
  }
  try {
    return await kube.core.readNode({ name });
  } catch (err) {
    if (err instanceof ApiException && err.code === 404)
      throw new Error(`node ${name} not found in the cluster`, { cause: err });
    throw new Error(`reading node ${name} failed: ${toError(err).message}`, { cause: err });
  }
}
