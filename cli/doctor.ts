// `spot-orchestrator doctor`: checks what the watcher and webhook need, one line per check, and exits 1
// when anything is broken.
import { parseArgs } from "node:util";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { AuthorizationV1Api, VersionApi } from "@kubernetes/client-node";
import { loadConfig, ConfigError, type Config } from "../core/config.ts";
import { toError } from "../core/errors.ts";
import { createKube, type Kube } from "../core/kube.ts";
import { fargateIncompatibilities } from "../core/placement.ts";
import { listOptedInDeployments } from "../watcher/cluster/optedIn.ts";
import { createSqsClient } from "../watcher/sqs/consumer.ts";

const HELP = `Usage: spot-orchestrator doctor [--config PATH] [--kubeconfig PATH]

Checks the configuration, the permissions the watcher needs (RBAC), the queue, and the Fargate
compatibility of every opted-in Deployment. Exit code 1 when a check fails.`;

type Status = "ok" | "warn" | "fail";
export interface Check {
  status: Status;
  what: string;
  detail?: string;
}

/** What the watcher does with the API across the cluster, as the chart grants it: [group, resource, verb]. */
export const REQUIRED_ACCESS: [string, string, string][] = [
  ["", "nodes", "list"],
  ["", "nodes", "watch"],
  ["", "pods", "list"],
  ["apps", "replicasets", "get"],
  ["apps", "deployments", "list"],
  ["apps", "deployments", "patch"],
  ["", "services", "list"],
  ["discovery.k8s.io", "endpointslices", "list"],
  ["events.k8s.io", "events", "create"],
];

export async function doctorCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      kubeconfig: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
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
  report(await queueCheck(config));

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
    checks.push(await accessCheck(kube, group, resource, verb, ""));
  checks.push(
    await accessCheck(
      kube,
      "coordination.k8s.io",
      "leases",
      "update",
      config.watcher.leaseNamespace,
      config.watcher.leaseName,
    ),
  );

  try {
    const scope = {
      namespaces: config.kubernetes.namespaces,
      deploymentName: config.kubernetes.deploymentName,
    };
    const deployments = await listOptedInDeployments(kube, scope);
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
          what: `${d.metadata?.namespace}/${d.metadata?.name} cannot run on Fargate`,
          detail: reasons.join("; "),
        });
      }
    }
  } catch (err) {
    checks.push({ status: "fail", what: "list opted-in Deployments", detail: toError(err).message });
  }
  return checks;
}

async function accessCheck(
  kube: Kube,
  group: string,
  resource: string,
  verb: string,
  namespace: string,
  name?: string,
): Promise<Check> {
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

export async function queueCheck(config: Config): Promise<Check> {
  const what = "SQS queue reachable";
  if (config.aws.sqsQueueUrl === "") return { status: "fail", what, detail: "SQS_QUEUE_URL is not set" };
  const client = createSqsClient(config);
  try {
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: config.aws.sqsQueueUrl, AttributeNames: ["All"] }),
    );
    if (!Attributes["RedrivePolicy"]) {
      return {
        status: "warn",
        what,
        detail: `${Attributes["ApproximateNumberOfMessages"] ?? "?"} messages waiting; no dead-letter queue configured`,
      };
    }
    return {
      status: "ok",
      what,
      detail: `${Attributes["ApproximateNumberOfMessages"] ?? "?"} messages waiting`,
    };
  } catch (err) {
    return { status: "fail", what, detail: toError(err).message };
  } finally {
    client.destroy();
  }
}
