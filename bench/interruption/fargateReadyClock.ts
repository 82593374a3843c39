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

/** Lists the run's pods and the Fargate nodes, and watches both from there. */
export async function startFargateReadyClock(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  replicasOf: ReadonlyMap<string, number>,
): Promise<FargateReadyClock> {
  const pods = new Map<string, Tracked>();
  const fargateNodes = new Set<string>();
  const readyAt = new Map<string, number>();
  let failure: Error | undefined;

  /** A Deployment is Ready on Fargate once as many of its pods as it has replicas are. */
  const settle = (now: number) => {
    const onFargate = new Map<string, number>();
    for (const pod of pods.values()) {
      if (!pod.ready || pod.terminating || !fargateNodes.has(pod.nodeName ?? "")) continue;
      pod.readyAt ??= now;
      onFargate.set(pod.app, (onFargate.get(pod.app) ?? 0) + 1);
    }
    for (const [app, replicas] of replicasOf) {
      if (!readyAt.has(app) && (onFargate.get(app) ?? 0) >= replicas) readyAt.set(app, now);
    }
  };
  // each watch starts from a list, so nothing that happens between the two is missed
  const core = kc.makeApiClient(CoreV1Api);
  const nodeSelector = `${fargateComputeLabel}=fargate`;
  const podList = await core.listNamespacedPod({ namespace, labelSelector });
  for (const pod of podList.items) track(pods, pod.metadata?.uid ?? "", pod, performance.now());
  const nodeList = await core.listNode({ labelSelector: nodeSelector });
  for (const node of nodeList.items) fargateNodes.add(node.metadata?.name ?? "");
  settle(performance.now());
  if (readyAt.size > 0) {
    throw new Error(`${readyAt.size} Deployments were already Ready on Fargate before the event`);
  }

  const fail = (err: Error) => (failure ??= err);
  const podWatch = await resumableWatch<V1Pod>(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector, resourceVersion: podList.metadata?.resourceVersion },
    (type, pod) => {
      const now = performance.now();
      const uid = pod.metadata?.uid ?? "";
      if (type === "DELETED") {
        const known = pods.get(uid);
        if (known) known.terminating = true;
      } else track(pods, uid, pod, now);
      settle(now);
    },
    fail,
  );
  const nodeWatch = await resumableWatch<V1Node>(
    kc,
    "/api/v1/nodes",
    { labelSelector: nodeSelector, resourceVersion: nodeList.metadata?.resourceVersion },
    (type, node) => {
      if (type === "DELETED") return;
      fargateNodes.add(node.metadata?.name ?? "");
      settle(performance.now());
    },
    fail,
  ).catch((err: unknown) => {
    podWatch.stop();
    throw err;
  });
  const stop = () => {
    podWatch.stop();
    nodeWatch.stop();
  };
  const check = () => {
    if (failure) throw failure;
  };

  return {
    async allReady(timeoutMs) {
      try {
        await pollUntil(
          `${replicasOf.size} Deployments to have every replica Ready on Fargate`,
          () => (check(), readyAt.size === replicasOf.size),
          { timeoutMs, intervalMs: 5 },
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} (${readyAt.size} of ${replicasOf.size} there)`, {
          cause: err,
        });
      }
    },
    readyAt,
    fargatePods: () =>
      [...pods.values()]
        .filter((p) => p.onFargateProfile)
        .map(({ name, app, nodeName, startupMs, releasedAt, readyAt: ready, seenAt, gated }) => ({
          name,
          app,
          nodeName,
          startupMs,
          gateWaitMs: gated && releasedAt !== undefined ? releasedAt - seenAt : 0,
          releasedAt,
          readyAt: ready,
        })),
    stop,
  };
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
