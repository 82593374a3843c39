// The objects the interruption benchmark creates: tainted spot nodes only its own pods tolerate (so other
// runs sharing the cluster never land on them, nor count them as spot capacity), opted-in Deployments
// pinned to one node, and plain pods bound straight to a node.
import type { V1Deployment, V1Node, V1Pod, V1Taint, V1Toleration } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { ec2NodeManifest } from "../../harness/cluster/nodes.ts";

export const benchNodeLabel = "bench.spot-orchestrator.io/node";
export const runLabel = "bench.spot-orchestrator.io/run";

const benchTaint: V1Taint = {
  key: "bench.spot-orchestrator.io/dedicated",
  value: "interruption",
  effect: "NoSchedule",
};
const benchToleration: V1Toleration = { ...benchTaint, operator: "Equal" };

const container = { name: "app", image: "registry.k8s.io/pause:3.10" };

/** A spot node for the benchmarks' pods only; `zone` and extra `labels` as ec2NodeManifest takes them. */
export function benchNodeManifest(
  pods = 120,
  options: { zone?: string; labels?: Record<string, string> } = {},
): V1Node {
  return ec2NodeManifest("spot", {
    pods,
    taints: [benchTaint],
    ...(options.zone ? { zone: options.zone } : {}),
    labels: { [benchNodeLabel]: "true", ...options.labels },
  });
}

/** One replica, opted in, scheduled onto `node` by nodeSelector (the scheduler binds it). */
export function pinnedDeployment(name: string, node: string, run: string, replicas = 1): V1Deployment {
  return {
    metadata: { name, labels: { [runLabel]: run }, annotations: { [Annotation.enabled]: "true" } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, [runLabel]: run } },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": node },
          tolerations: [benchToleration],
          terminationGracePeriodSeconds: 0,
          containers: [container],
        },
      },
    },
  };
}

/** A pod bound with spec.nodeName: no scheduler involved, so thousands are cheap to create. */
export function boundPod(name: string, node: string, run: string): V1Pod {
  return {
    metadata: { name, labels: { [runLabel]: run } },
    spec: {
      nodeName: node,
      tolerations: [benchToleration],
      terminationGracePeriodSeconds: 0,
      containers: [container],
    },
  };
}
