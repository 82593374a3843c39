// Reads and waits used by the end-to-end suites.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { waitFor } from "../cluster/wait.ts";

export function clients(kc: KubeConfig) {
  return {
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
  };
}

export async function waitForAvailable(
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
): Promise<V1Deployment> {
  const { apps } = clients(kc);
  return waitFor(
    `${namespace}/${name} available with ${replicas} replicas`,
    async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name });
      const s = d.status ?? {};
      return s.availableReplicas === replicas && s.updatedReplicas === replicas && s.replicas === replicas
        ? d
        : undefined;
    },
    { timeoutMs: 90_000 },
  );
}

/** Waits until the Deployment's annotations satisfy `done`; fails at once on `rollout=failed: ...` unless allowed. */
export async function waitForAnnotations(
  kc: KubeConfig,
  namespace: string,
  name: string,
  description: string,
  done: (annotations: Record<string, string>) => boolean,
  timeoutMs = 90_000,
): Promise<V1Deployment> {
  const { apps } = clients(kc);
  return waitFor(
    `${namespace}/${name}: ${description}`,
    async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name });
      return done(d.metadata?.annotations ?? {}) ? d : undefined;
    },
    { timeoutMs },
  );
}

export const healthyOn = (compute: "spot" | "fargate") => (a: Record<string, string>) =>
  a[Annotation.compute] === compute && a[Annotation.rollout] === "healthy";

export async function podsOf(kc: KubeConfig, namespace: string, app: string): Promise<V1Pod[]> {
  const { core } = clients(kc);
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter(
    (p) => p.metadata?.deletionTimestamp === undefined,
  );
}

export async function readyEndpoints(kc: KubeConfig, namespace: string, service: string): Promise<number> {
  const { discovery } = clients(kc);
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true).length;
}

/** Samples a Service's ready endpoints until stopped; returns the fewest seen. */
export function sampleReadyEndpoints(
  kc: KubeConfig,
  namespace: string,
  service: string,
): { stop(): Promise<number> } {
  let min = Infinity;
  let running = true;
  const loop = (async () => {
    while (running) {
      min = Math.min(min, await readyEndpoints(kc, namespace, service));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return min;
    },
  };
}

export async function waitForEmptyQueue(client: SQSClient, queueUrl: string): Promise<void> {
  await waitFor(
    "the queue to be empty (every message deleted)",
    async () => {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return (
        Attributes["ApproximateNumberOfMessages"] === "0" &&
        Attributes["ApproximateNumberOfMessagesNotVisible"] === "0"
      );
    },
    { timeoutMs: 60_000 },
  );
}
