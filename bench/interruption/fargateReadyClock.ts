// Times a move to Fargate from the outside, pod by pod: a watch of the run's pods and one of the Fargate nodes
// note when each Deployment (by its `app` label) first has all its replicas Ready on Fargate: Ready, not
// terminating, on a node labelled eks.amazonaws.com/compute-type=fargate. For the floor it notes what the
// Fargate emulator did to each pod: the start-up time it drew (the pod's startup-delay annotation, which
// kwok waits out from binding to Ready) and, for a pod over the launch rate, how long it waited behind
// the launch gate (first seen gated → first seen with the gate lifted).
import { CoreV1Api, type KubeConfig, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { parseDuration } from "../../core/duration.ts";
import { isPodReady } from "../../watcher/cluster/pods.ts";
import { startupDelayAnnotation } from "../../harness/cluster/kwok-stages.ts";
import { fargateComputeLabel } from "../../harness/cluster/nodes.ts";
import { launchGate } from "../../harness/fargate/launch-rate.ts";
import { fargateProfileLabel } from "../../harness/fargate/profiles.ts";
import { pollUntil } from "./pollUntil.ts";
import { resumableWatch } from "./resumableWatch.ts";

/** What the Fargate emulator did to one of the run's pods, and when it was Ready there (performance.now()). */
export interface FargatePod {
  name: string;
  app: string;
  /** The node it is bound to, or else the Fargate node the emulator pinned it to. */
  nodeName: string | undefined;
  /** The start-up time the emulator drew (binding → Ready). */
  startupMs: number;
  /** How long it waited behind the launch gate; 0 when it launched at once. */
  gateWaitMs: number;
  /** When the gate was seen lifted; undefined when it had none. */
  releasedAt: number | undefined;
  readyAt: number | undefined;
  /** When the pod was first seen (created). */
  seenAt: number;
}

export interface FargateReadyClock {
  /** Resolves once every Deployment has all its replicas Ready on Fargate. */
  allReady(timeoutMs: number): Promise<void>;
  /** performance.now() at which each Deployment first had all its replicas Ready on Fargate. */
  readonly readyAt: ReadonlyMap<string, number>;
  /** The pods a Fargate profile took (the move's new pods). */
  fargatePods(): FargatePod[];
  stop(): void;
}

interface Tracked extends Omit<FargatePod, "gateWaitMs"> {
  seenAt: number;
  gated: boolean;
  onFargateProfile: boolean;
  ready: boolean;
  terminating: boolean;
}

const gatedByLaunch = (pod: V1Pod) => pod.spec?.schedulingGates?.some((g) => g.name === launchGate) === true;

const nodeSelector = `${fargateComputeLabel}=fargate`;

/** Lists the run's pods and the Fargate nodes, and watches both from there. */
export async function startFargateReadyClock(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  replicasOf: ReadonlyMap<string, number>,
): Promise<FargateReadyClock> {
  const seen = new SeenOnFargate(replicasOf);
  // each watch starts from a list, so nothing that happens between the two is missed
  const from = await listFirst(kc, seen, namespace, labelSelector);
  const watches = await watchFrom(kc, seen, namespace, labelSelector, from);
  return {
    allReady: (timeoutMs) => allReady(seen, timeoutMs),
    readyAt: seen.readyAt,
    fargatePods: () => seen.fargatePods(),
    stop: watches.stop,
  };
}

/** What the watches have seen: the run's pods, the Fargate nodes, and when each Deployment was Ready there. */
class SeenOnFargate {
  readonly pods = new Map<string, Tracked>();
  readonly fargateNodes = new Set<string>();
  readonly readyAt = new Map<string, number>();
  readonly replicasOf: ReadonlyMap<string, number>;
  failure: Error | undefined;

  constructor(replicasOf: ReadonlyMap<string, number>) {
    this.replicasOf = replicasOf;
  }

  /** A Deployment is Ready on Fargate once as many of its pods as it has replicas are. */
  settle(now: number): void {
    const onFargate = new Map<string, number>();
    for (const pod of this.pods.values()) {
      if (!pod.ready || pod.terminating || !this.fargateNodes.has(pod.nodeName ?? "")) continue;
      pod.readyAt ??= now;
      onFargate.set(pod.app, (onFargate.get(pod.app) ?? 0) + 1);
    }
    for (const [app, replicas] of this.replicasOf) {
      if (!this.readyAt.has(app) && (onFargate.get(app) ?? 0) >= replicas) this.readyAt.set(app, now);
    }
  }

  onPod(type: string, pod: V1Pod): void {
    const now = performance.now();
    const uid = pod.metadata?.uid ?? "";
    if (type === "DELETED") {
      const known = this.pods.get(uid);
      if (known) known.terminating = true;
    } else track(this.pods, uid, pod, now);
    this.settle(now);
  }

  onNode(type: string, node: V1Node): void {
    if (type === "DELETED") return;
    this.fargateNodes.add(node.metadata?.name ?? "");
    this.settle(performance.now());
  }

  /** The pods a Fargate profile took (the move's new pods). */
  fargatePods(): FargatePod[] {
    return [...this.pods.values()]
      .filter((p) => p.onFargateProfile)
      .map(({ name, app, nodeName, startupMs, releasedAt, readyAt: ready, seenAt, gated }) => ({
        name,
        app,
        nodeName,
        startupMs,
        gateWaitMs: gated && releasedAt !== undefined ? releasedAt - seenAt : 0,
        releasedAt,
        readyAt: ready,
        seenAt,
      }));
  }
}

/** Lists the run's pods and the Fargate nodes; returns the resourceVersions the watches start from. */
async function listFirst(
  kc: KubeConfig,
  seen: SeenOnFargate,
  namespace: string,
  labelSelector: string,
): Promise<{ pods: string | undefined; nodes: string | undefined }> {
  const core = kc.makeApiClient(CoreV1Api);
  const podList = await core.listNamespacedPod({ namespace, labelSelector });
  for (const pod of podList.items) track(seen.pods, pod.metadata?.uid ?? "", pod, performance.now());
  const nodeList = await core.listNode({ labelSelector: nodeSelector });
  for (const node of nodeList.items) seen.fargateNodes.add(node.metadata?.name ?? "");
  seen.settle(performance.now());
  if (seen.readyAt.size > 0) {
    throw new Error(`${seen.readyAt.size} Deployments were already Ready on Fargate before the event`);
  }
  return { pods: podList.metadata?.resourceVersion, nodes: nodeList.metadata?.resourceVersion };
}

/** Watches the run's pods and the Fargate nodes from the lists; a watch's failure is kept for `allReady`. */
async function watchFrom(
  kc: KubeConfig,
  seen: SeenOnFargate,
  namespace: string,
  labelSelector: string,
  from: { pods: string | undefined; nodes: string | undefined },
): Promise<{ stop(): void }> {
  const fail = (err: Error) => (seen.failure ??= err);
  const podWatch = await resumableWatch<V1Pod>(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector, resourceVersion: from.pods },
    (type, pod) => seen.onPod(type, pod),
    fail,
  );
  const nodeWatch = await resumableWatch<V1Node>(
    kc,
    "/api/v1/nodes",
    { labelSelector: nodeSelector, resourceVersion: from.nodes },
    (type, node) => seen.onNode(type, node),
    fail,
  ).catch((err: unknown) => {
    podWatch.stop();
    throw err;
  });
  return {
    stop() {
      podWatch.stop();
      nodeWatch.stop();
    },
  };
}

/** Resolves once every Deployment has all its replicas Ready on Fargate; fails with a watch's failure. */
async function allReady(seen: SeenOnFargate, timeoutMs: number): Promise<void> {
  const check = () => {
    if (seen.failure) throw seen.failure;
  };
  try {
    await pollUntil(
      `${seen.replicasOf.size} Deployments to have every replica Ready on Fargate`,
      () => (check(), seen.readyAt.size === seen.replicasOf.size),
      { timeoutMs, intervalMs: 5 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (${seen.readyAt.size} of ${seen.replicasOf.size} there)`, {
      cause: err,
    });
  }
}

/** Notes what a pod event says: first sight, gate lifted, its drawn start-up, node, readiness. */
function track(pods: Map<string, Tracked>, uid: string, pod: V1Pod, now: number): void {
  const delay = pod.metadata?.annotations?.[startupDelayAnnotation];
  const gated = gatedByLaunch(pod);
  const known = pods.get(uid) ?? {
    name: pod.metadata?.name ?? "",
    app: pod.metadata?.labels?.["app"] ?? "",
    seenAt: now,
    gated,
    releasedAt: undefined,
    readyAt: undefined,
    nodeName: undefined,
    startupMs: 0,
    onFargateProfile: false,
    ready: false,
    terminating: false,
  };
  pods.set(uid, known);
  if (known.gated && !gated) known.releasedAt ??= now;
  known.startupMs = delay === undefined ? 0 : parseDuration(delay);
  known.onFargateProfile = pod.metadata?.labels?.[fargateProfileLabel] !== undefined;
  known.nodeName = pod.spec?.nodeName ?? pod.spec?.nodeSelector?.["kubernetes.io/hostname"];
  known.ready = isPodReady(pod);
  known.terminating = pod.metadata?.deletionTimestamp !== undefined;
}
