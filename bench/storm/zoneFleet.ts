// The storm's cluster: spot nodes spread evenly over three availability zones (tainted so only the
// benchmark's pods land there), one-replica Deployments pinned each to one node: the targets (opted in, on the
// nodes of the zone being reclaimed), opted-in Deployments elsewhere (the other zones, and the zone's nodes
// that stay) and bystanders (not opted in, half on the reclaimed nodes, half elsewhere).
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { addNode, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { mergePatch } from "../interruption/fleet.ts";
import { benchNodeManifest, pinnedDeployment, runLabel } from "../interruption/manifests.ts";
import { pollUntil } from "../interruption/pollUntil.ts";

export const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] as const;
/** The zone whose nodes are reclaimed. */
export const RECLAIMED_ZONE = ZONES[0];
/** Carried by the storm's nodes, valued with its namespace: the cleanup deletes these and no others. */
export const stormNodeLabel = "bench.spot-orchestrator.io/storm";

export interface StormSizes {
  nodes: number;
  reclaimed: number;
  /** Opted-in Deployments on the reclaimed nodes. */
  deployments: number;
  /** Opted-in Deployments on the other nodes. */
  elsewhere: number;
  bystanders: number;
}

export interface StormNode {
  name: string;
  instanceId: string;
  zone: string;
}

export interface StormFleet {
  run: string;
  labelSelector: string;
  nodes: StormNode[];
  /** The nodes the storm reclaims (all in RECLAIMED_ZONE). */
  reclaimed: StormNode[];
  /** Target Deployment → its node: the opted-in Deployments on reclaimed nodes, every one to move once. */
  targets: Map<string, StormNode>;
  /** Opted-in Deployments on nodes that stay; none may be touched. */
  elsewhere: string[];
  /** Deployments not opted in (on reclaimed nodes and elsewhere); none may be touched. */
  bystanders: string[];
}

/** Checks the sizes make sense: the reclaimed nodes fit in one zone. */
export function checkSizes(sizes: StormSizes): void {
  const perZone = Math.ceil(sizes.nodes / ZONES.length);
  for (const [key, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${key}: a whole number, 0 or more`);
  }
  if (sizes.reclaimed < 1 || sizes.reclaimed > perZone) {
    throw new Error(`--reclaimed: 1 to ${perZone} (one zone's share of --nodes ${sizes.nodes})`);
  }
  if (sizes.deployments < 1) throw new Error("--deployments: at least 1");
  if (sizes.nodes <= sizes.reclaimed) throw new Error("--nodes: more than --reclaimed, for elsewhere");
}

const pad = (i: number) => String(i).padStart(4, "0");

export async function createStormFleet(
  kc: KubeConfig,
  namespace: string,
  sizes: StormSizes,
  log: (line: string) => void,
): Promise<StormFleet> {
  const run = "storm";
  const nodes = await createNodes(kc, namespace, sizes);
  const reclaimed = nodes.filter((n) => n.zone === RECLAIMED_ZONE).slice(0, sizes.reclaimed);
  const staying = nodes.filter((n) => !reclaimed.includes(n));
  log(
    `${nodes.length} nodes Ready over ${ZONES.join(", ")}; ${reclaimed.length} in ${RECLAIMED_ZONE} to reclaim`,
  );
  const on = (list: StormNode[], i: number) => list[i % list.length]!;
  const targets = new Map(
    Array.from({ length: sizes.deployments }, (_, i) => [`t-${pad(i)}`, on(reclaimed, i)] as const),
  );
  const elsewhere = Array.from({ length: sizes.elsewhere }, (_, i) => `e-${pad(i)}`);
  const bystanders = Array.from({ length: sizes.bystanders }, (_, i) => `b-${pad(i)}`);
  const manifests: V1Deployment[] = [
    ...[...targets].map(([name, node]) => pinnedDeployment(name, node.name, run)),
    ...elsewhere.map((name, i) => pinnedDeployment(name, on(staying, i).name, run)),
    ...bystanders.map((name, i) =>
      notOptedIn(pinnedDeployment(name, on(i % 2 ? staying : reclaimed, i).name, run)),
    ),
  ];
  const apps = kc.makeApiClient(AppsV1Api);
  await mapLimit(manifests, 20, (body) => apps.createNamespacedDeployment({ namespace, body }));
  const labelSelector = `${runLabel}=${run}`;
  await waitForBoundPods(kc, namespace, labelSelector, manifests.length);
  log(`${manifests.length} Deployments' pods bound`);
  // a flip rolls nothing out while paused: the flip runs measure the flips alone
  await setPaused(kc, namespace, [...targets.keys()], true);
  return { run, labelSelector, nodes, reclaimed, targets, elsewhere, bystanders };
}

/** Nodes round-robin over the zones, tainted for the benchmark's pods, room for everything on them. */
async function createNodes(kc: KubeConfig, namespace: string, sizes: StormSizes): Promise<StormNode[]> {
  const perNode = Math.ceil((sizes.deployments + sizes.elsewhere + sizes.bystanders) / sizes.reclaimed) + 10;
  const zoneOf = (i: number) => ZONES[i % ZONES.length]!;
  return mapLimit(
    Array.from({ length: sizes.nodes }, (_, i) => i),
    20,
    async (i) => {
      const manifest = () =>
        benchNodeManifest(perNode, { zone: zoneOf(i), labels: { [stormNodeLabel]: namespace } });
      const node = await addNode(kc, manifest, 180_000);
      return { name: node.metadata?.name ?? "", instanceId: instanceIdOf(node), zone: zoneOf(i) };
    },
  );
}

function notOptedIn(deployment: V1Deployment): V1Deployment {
  delete deployment.metadata?.annotations?.[Annotation.enabled];
  return deployment;
}

async function waitForBoundPods(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  pods: number,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  let bound = 0;
  await pollUntil(
    `${pods} pods bound`,
    async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector });
      bound = list.items.filter((p) => p.spec?.nodeName && !p.metadata?.deletionTimestamp).length;
      return bound >= pods;
    },
    { timeoutMs: 120_000 + pods * 500, intervalMs: 1_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (${bound} bound)`, { cause: err });
  });
}

export async function setPaused(
  kc: KubeConfig,
  namespace: string,
  names: string[],
  paused: boolean,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  await mapLimit(names, 20, (name) =>
    apps.patchNamespacedDeployment({ namespace, name, body: { spec: { paused } } }, mergePatch),
  );
}

/** Deletes the fleet's Deployments, ReplicaSets and pods (at once) and its nodes. */
export async function deleteStormFleet(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  await apps.deleteCollectionNamespacedDeployment({
    namespace,
    labelSelector,
    propagationPolicy: "Background",
  });
  await apps.deleteCollectionNamespacedReplicaSet({ namespace, labelSelector });
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
  await deleteStormNodes(kc, namespace);
}

export async function deleteStormNodes(kc: KubeConfig, namespace: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).deleteCollectionNode({ labelSelector: `${stormNodeLabel}=${namespace}` });
}
