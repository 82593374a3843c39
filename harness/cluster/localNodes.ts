// The standing nodes of the local cluster for manual sessions (`npm run cluster:up`): a spot node group over
// two zones, an on-demand node group and one Fargate node, shaped as EKS makes them. Test suites add and
// remove their own nodes and never rely on these.
import { CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { addFargateNode, addOnDemandNodes, addSpotNodes } from "./nodes.ts";

const standingLabel = "spot-orchestrator.io/local-node";
const labels = { [standingLabel]: "true" };

/** Adds the standing nodes unless they are there already; returns them. */
export async function ensureLocalNodes(kc: KubeConfig): Promise<{ nodes: V1Node[]; added: boolean }> {
  const core = kc.makeApiClient(CoreV1Api);
  const existing = (await core.listNode({ labelSelector: `${standingLabel}=true` })).items;
  if (existing.length > 0) return { nodes: existing, added: false };
  const nodes = (
    await Promise.all([
      addSpotNodes(kc, 1, { nodegroup: "spot", zone: "eu-west-1a", labels }),
      addSpotNodes(kc, 1, { nodegroup: "spot", zone: "eu-west-1b", labels }),
      addOnDemandNodes(kc, 1, { nodegroup: "on-demand", zone: "eu-west-1a", labels }),
      addFargateNode(kc, { zone: "eu-west-1b", labels }).then((node) => [node]),
    ])
  ).flat();
  return { nodes, added: true };
}
