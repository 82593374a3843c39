// Reads and waits on Deployments, their pods and their Service's endpoints, for the suites that run against
// the cluster.
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { errorMessage, waitFor } from "../../harness/cluster/wait.ts";

export function clients(kc: KubeConfig) {
  return {
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
  };
}

/**
 * Waits until the Deployment has rolled out to `replicas` pods, all available; on timeout, also says where its
 * pods are stuck.
 */
export async function waitForAvailable(
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
  { timeoutMs = 90_000 }: { timeoutMs?: number } = {},
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
    { timeoutMs },
  ).catch(async (err: unknown) => {
    throw new Error(`${errorMessage(err)}; ${await podStates(kc, namespace, name).catch(errorMessage)}`);
  });
}

/** Where the Deployment's pods are: node, phase and each condition not yet True. */
async function podStates(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const { apps, core } = clients(kc);
  const d = await apps.readNamespacedDeployment({ namespace, name });
  const selector = Object.entries(d.spec?.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const pods = await core.listNamespacedPod({ namespace, labelSelector: selector.join(",") });
  const states = pods.items.map((p) => {
    const waiting = p.status?.conditions
      ?.filter((c) => c.status !== "True")
      .map((c) => `${c.type}: ${c.message ?? c.reason}`);
    return `${p.metadata?.name} on ${p.spec?.nodeName ?? "no node"} ${p.status?.phase} ${waiting?.join("; ") ?? ""}`;
  });
  return `${d.status?.availableReplicas ?? 0} available; pods: ${states.join(" | ") || "none"}`;
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
