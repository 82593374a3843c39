// Reads and waits used by the end-to-end suites.
import { once } from "node:events";
import { createServer } from "node:http";
import { join } from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type CoreV1Event,
  type KubeConfig,
  type V1Deployment,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { testKubeconfigPath } from "../support/testCluster.ts";
import { terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import type { FargateProfile } from "../../harness/fargate/profiles.ts";
import { startStack, type Stack } from "../../harness/stack/stack.ts";

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

export interface SuiteStack {
  /** The running stack (set once the suite's beforeAll has run). */
  readonly stack: Stack;
  /** Nodes the suite adds; terminated after it. */
  readonly nodes: V1Node[];
}

/**
 * The whole product for one suite's namespace (webhook and watcher processes, SQS emulator), with an emulated
 * Fargate profile for that namespace; all of it, and the nodes the suite adds, removed after the suite.
 * `sharedEnv`: settings both processes read (placement, fallback); `fargate`: the profile's emulation settings
 * (start-up time, quotas).
 */
export function useStack(
  kc: KubeConfig,
  ns: { readonly name: string },
  watcherEnv: Record<string, string> | (() => Record<string, string>),
  sharedEnv: Record<string, string> = {},
  fargate: Omit<FargateProfile, "name" | "selectors"> = {},
): SuiteStack {
  const suite: { stack?: Stack; nodes: V1Node[] } = { nodes: [] };
  const profile = () => `fp-${ns.name}`;
  beforeAll(async () => {
    await fargateProfiles(kc).add({
      name: profile(),
      selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
      ...fargate,
    });
    suite.stack = await startStack({
      kc,
      kubeconfigPath: testKubeconfigPath(),
      namespace: ns.name,
      logDir: join(clusterDir, "logs", ns.name),
      watcherEnv: typeof watcherEnv === "function" ? watcherEnv() : watcherEnv,
      sharedEnv,
    });
  });
  afterAll(async () => {
    await suite.stack?.stop();
    await fargateProfiles(kc).remove(profile());
    await Promise.all(suite.nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
  });
  return {
    get stack() {
      if (!suite.stack) throw new Error("the stack starts in the suite's beforeAll");
      return suite.stack;
    },
    nodes: suite.nodes,
  };
}

export interface SlackReceiver {
  /** An incoming-webhook URL on 127.0.0.1. */
  url: string;
  /** Every message posted, in order. */
  messages: { text: string; blocks?: unknown[] }[];
  close(): Promise<void>;
}

/** A Slack incoming webhook on loopback that keeps what it is sent and answers "ok" as Slack does. */
export async function startSlackReceiver(): Promise<SlackReceiver> {
  const messages: SlackReceiver["messages"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      messages.push(JSON.parse(body) as SlackReceiver["messages"][number]);
      res.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}/services/T000/B000/XXXX`,
    messages,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A Slack receiver for the suite: started before its tests (and its stack, when called first), closed after. */
export function useSlackReceiver(): { readonly url: string; readonly messages: SlackReceiver["messages"] } {
  let receiver: SlackReceiver | undefined;
  beforeAll(async () => {
    receiver = await startSlackReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });
  const started = () => {
    if (!receiver) throw new Error("the Slack receiver starts in the suite's beforeAll");
    return receiver;
  };
  return {
    get url() {
      return started().url;
    },
    get messages() {
      return started().messages;
    },
  };
}

/** Events as `kubectl describe` finds them: core/v1, by the object's name, namespace, kind and uid. */
export async function describedEvents(
  kc: KubeConfig,
  object: { kind: string; namespace: string; name: string; uid: string },
): Promise<CoreV1Event[]> {
  const { kind, namespace, name, uid } = object;
  const fieldSelector = [
    `involvedObject.kind=${kind}`,
    `involvedObject.namespace=${namespace}`,
    `involvedObject.name=${name}`,
    `involvedObject.uid=${uid}`,
  ].join(",");
  return (await clients(kc).core.listNamespacedEvent({ namespace, fieldSelector })).items;
}

/** A Pod object standing for a watcher process's pod (its POD_NAME and POD_UID); never scheduled. */
export async function watcherPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<{ name: string; uid: string }> {
  const pod = await clients(kc).core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": "no-such-node" },
        containers: [{ name: "watcher", image: "registry.k8s.io/pause:3.10" }],
      },
    },
  });
  return { name, uid: pod.metadata!.uid! };
}
