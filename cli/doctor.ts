// `spot-orchestrator doctor`: checks what the watcher and webhook need, one line per check, and exits 1
// when anything is broken.
import { optInScopeOf } from "../core/config.ts";
import { parseArgs } from "node:util";
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { AuthorizationV1Api, VersionApi } from "@kubernetes/client-node";
import { CLUSTER_FLAGS } from "../core/commandLine.ts";
import { loadConfig, ConfigError, type Config } from "../core/config.ts";
import { toError } from "../core/errors.ts";
import { createKube, statusOf, type Kube } from "../core/kube.ts";
import { fargateIncompatibilities } from "../core/placement.ts";
import { accessList } from "../watcher/apiCalls.ts";
import { KubeDeployments, keyOf, refOf } from "../watcher/moves/deployments.ts";
import { queueReport } from "../watcher/lease/queueOnLease.ts";
import {
  awsErrorText,
  createSqsClient,
  parseRedrivePolicy,
  type RedrivePolicy,
} from "../watcher/sqs/queue.ts";

const HELP = `Usage: spot-orchestrator doctor [--config PATH] [--kubeconfig PATH]

Checks the configuration, the permissions the watcher needs (RBAC), the queue and its dead-letter queue's
depth, whether the leader watcher reads the queue (as it reports on its Lease), and the Fargate
compatibility of every opted-in Deployment. Exit code 1 when a check fails.`;

type Status = "ok" | "warn" | "fail";
export interface Check {
  status: Status;
  what: string;
  detail?: string;
}

/** What the watcher does with the API across the cluster, from its call list: [group, resource, verb]. */
export const REQUIRED_ACCESS = accessList("cluster");

export async function doctorCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: CLUSTER_FLAGS,
  });
  if (values.help) return void console.log(HELP);
  const checks: Check[] = [];
  const report = (check: Check) => {
    checks.push(check);
    const mark = { ok: "ok  ", warn: "warn", fail: "FAIL" }[check.status];
    console.log(`[${mark}] ${check.what}${check.detail ? `: ${check.detail}` : ""}`);
  };

  let config: Config;
  try {
    config = loadConfig({ file: values.config, process: "watcher" });
    report({ status: "ok", what: "configuration" });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) report({ status: "fail", what: "configuration", detail: problem });
    config = loadConfig({ file: values.config });
  }

  const kube = createKube({ kubeconfig: values.kubeconfig });
  for (const check of await clusterChecks(kube, config)) report(check);
  for (const check of await queueChecks(config)) report(check);
  report(await leaderQueueCheck(kube, config));

  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  console.log(`\n${checks.length - failed - warned} ok, ${warned} warnings, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

export async function clusterChecks(kube: Kube, config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  try {
    const version = await kube.config.makeApiClient(VersionApi).getCode();
    checks.push({ status: "ok", what: "apiserver reachable", detail: version.gitVersion });
  } catch (err) {
    return [{ status: "fail", what: "apiserver reachable", detail: toError(err).message }];
  }
  for (const [group, resource, verb] of REQUIRED_ACCESS)
    checks.push(await accessCheck(kube, { group, resource, verb }));
  checks.push(await leaseCheck(kube, config));

  try {
    const deployments = await new KubeDeployments(kube, optInScopeOf(config)).list();
    checks.push({
      status: deployments.length > 0 ? "ok" : "warn",
      what: "opted-in Deployments",
      detail: String(deployments.length),
    });
    for (const d of deployments) {
      const reasons = fargateIncompatibilities(d.spec?.template.spec);
      if (reasons.length > 0) {
        checks.push({
          status: "warn",
          what: `${keyOf(refOf(d))} cannot run on Fargate`,
          detail: reasons.join("; "),
        });
      }
    }
  } catch (err) {
    checks.push({ status: "fail", what: "list opted-in Deployments", detail: toError(err).message });
  }
  return checks;
}

interface Access {
  group: string;
  resource: string;
  verb: string;
  namespace?: string;
  name?: string;
}

/** One line for the leader Lease: the watcher may update it, and get and create it. */
async function leaseCheck(kube: Kube, config: Config): Promise<Check> {
  const lease = { namespace: config.watcher.leaseNamespace, name: config.watcher.leaseName };
  const checks = await Promise.all(
    accessList("lease").map(([group, resource, verb]) =>
      accessCheck(kube, { group, resource, verb, ...lease }),
    ),
  );
  const what = `may update leases.coordination.k8s.io/${lease.name} in ${lease.namespace} (and get, create it)`;
  const failed = checks.filter((c) => c.status !== "ok");
  if (failed.length === 0) return { status: "ok", what };
  return { status: "fail", what, detail: failed.map((c) => `${c.what}: ${c.detail}`).join("; ") };
}

async function accessCheck(kube: Kube, access: Access): Promise<Check> {
  const { group, resource, verb, namespace, name } = access;
  const kind = group ? `${resource}.${group}` : resource;
  const what = `may ${verb} ${kind}${name ? `/${name}` : ""}${namespace ? ` in ${namespace}` : ""}`;
  try {
    const review = await kube.config.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            group,
            resource,
            verb,
            ...(namespace ? { namespace } : {}),
            ...(name ? { name } : {}),
          },
        },
      },
    });
    return review.status?.allowed
      ? { status: "ok", what }
      : { status: "fail", what, detail: review.status?.reason || "denied" };
  } catch (err) {
    return { status: "fail", what, detail: toError(err).message };
  }
}

/** The queue (reachable from here, with a dead-letter queue) and its dead-letter queue's depth. */
export async function queueChecks(config: Config): Promise<Check[]> {
  const what = "SQS queue reachable";
  if (config.aws.sqsQueueUrl === "") return [{ status: "fail", what, detail: "SQS_QUEUE_URL is not set" }];
  const client = createSqsClient(config);
  try {
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: config.aws.sqsQueueUrl, AttributeNames: ["All"] }),
    );
    const waiting = `${Attributes["ApproximateNumberOfMessages"] ?? "?"} messages waiting`;
    const redrive = parseRedrivePolicy(Attributes["RedrivePolicy"]);
    if (!redrive) {
      return [{ status: "warn", what, detail: `${waiting}; no dead-letter queue configured` }];
    }
    return [{ status: "ok", what, detail: waiting }, await deadLetterCheck(client, redrive)];
  } catch (err) {
    return [{ status: "fail", what, detail: awsErrorText(err) }];
  } finally {
    client.destroy();
  }
}

/** Events in the dead-letter queue are interruptions nobody acted on. */
async function deadLetterCheck(client: SQSClient, redrive: RedrivePolicy): Promise<Check> {
  // arn:<partition>:sqs:<region>:<account>:<name>
  const [, , , , account, name] = redrive.deadLetterTargetArn.split(":");
  const what = `dead-letter queue ${name ?? redrive.deadLetterTargetArn}`;
  try {
    const { QueueUrl } = await client.send(
      new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
    );
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    const depth = Number(Attributes["ApproximateNumberOfMessages"] ?? 0);
    if (depth === 0)
      return {
        status: "ok",
        what,
        detail: `empty (events go there after ${redrive.maxReceiveCount} failed receives)`,
      };
    return {
      status: "warn",
      what,
      detail: `${depth} events nobody acted on: inspect them (aws sqs receive-message --queue-url ${QueueUrl}), check their Deployments moved, then purge it`,
    };
  } catch (err) {
    return { status: "warn", what, detail: `its depth cannot be read: ${awsErrorText(err)}` };
  }
}

/** What the leader watcher, wherever it runs, reports of its queue on its Lease. */
export async function leaderQueueCheck(kube: Kube, config: Config): Promise<Check> {
  const what = "the leader watcher reads the queue";
  const { leaseNamespace: namespace, leaseName: name } = config.watcher;
  try {
    const lease = await kube.coordination.readNamespacedLease({ namespace, name });
    const { status, text } = queueReport(lease, Date.now());
    return { status, what, detail: text };
  } catch (err) {
    const why = statusOf(err) === 404 ? `no leader Lease ${namespace}/${name}` : toError(err).message;
    return { status: "warn", what, detail: `unknown: ${why}` };
  }
}
