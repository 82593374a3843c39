// What the apiserver admits, with the webhook process registered as the chart registers it: bad values of
// the annotation contract are denied whether or not the Deployment is opted in.
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { apiErrorMessage, statusCodeOf } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { startStack, type Stack } from "../../harness/stack/stack.ts";
import { clients } from "../support/deployments.ts";
import { emptyApp as app } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const ns = useNamespace("e2e-admission");
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: join(clusterDir, "logs", ns.name),
    watcher: false,
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function rejection(body: V1Deployment): Promise<{ code: number | undefined; message: string }> {
  try {
    await apps.createNamespacedDeployment({ namespace: ns.name, body });
  } catch (err) {
    return { code: statusCodeOf(err), message: apiErrorMessage(err) };
  }
  throw new Error(`${body.metadata?.name} was admitted`);
}

describe("admission of Deployments that are not opted in", () => {
  it.each([
    ["maybe", { [Annotation.enabled]: "maybe" }, 'spot-orchestrator.io/enabled: "maybe" is not allowed'],
    ["gpu", { [Annotation.compute]: "gpu" }, 'spot-orchestrator.io/compute: "gpu" is not allowed'],
    [
      "opted-out-gpu",
      { [Annotation.enabled]: "false", [Annotation.compute]: "gpu" },
      'spot-orchestrator.io/compute: "gpu" is not allowed',
    ],
  ])("denies %s", async (name, annotations, message) => {
    const { code, message: text } = await rejection(app(name, annotations));
    expect(code).toBe(422);
    expect(text).toContain(message);
  });

  it("admits a Deployment with valid values, and one without any orchestrator annotation", async () => {
    for (const [name, annotations] of [
      ["not-yet", { [Annotation.compute]: "fargate" }],
      ["plain", {}],
    ] as const) {
      const created = await apps.createNamespacedDeployment({
        namespace: ns.name,
        body: app(name, annotations),
      });
      expect(created.metadata?.name).toBe(name);
    }
  });
});
