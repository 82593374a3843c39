// The demo's workload: a small opted-in web app on its own spot node group, behind a Service. Its pod
// template carries every placement field the orchestrator stashes, so the trip back to spot can be checked.
import type { V1Deployment, V1PodSpec, V1Service, V1Taint } from "@kubernetes/client-node";
import { Annotation, NodeLabel } from "../core/contract.ts";

export const appName = "web";
export const replicas = 3;

/** The demo's nodes carry this taint, so nothing else in a shared cluster lands on (and dies with) them. */
export function poolTaint(pool: string): V1Taint {
  return { key: "spot-orchestrator.io/demo-pool", value: pool, effect: "NoSchedule" };
}

export function sampleDeployment(pool: string): V1Deployment {
  return {
    metadata: {
      name: appName,
      labels: { app: appName },
      annotations: { [Annotation.enabled]: "true" },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: appName } },
      template: {
        metadata: { labels: { app: appName } },
        spec: {
          nodeSelector: { "eks.amazonaws.com/nodegroup": pool },
          tolerations: [{ ...poolTaint(pool), operator: "Equal" }],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: NodeLabel.capacityType, operator: "In", values: ["SPOT"] }] },
                ],
              },
            },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "DoNotSchedule",
              labelSelector: { matchLabels: { app: appName } },
            },
          ],
          containers: [
            {
              name: "web",
              image: "registry.k8s.io/pause:3.10",
              ports: [{ containerPort: 8080 }],
              resources: { requests: { cpu: "100m", memory: "64Mi" } },
            },
          ],
        },
      },
    },
  };
}

export function sampleService(): V1Service {
  return {
    metadata: { name: appName },
    spec: { selector: { app: appName }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

/** The placement fields the orchestrator stashes on the way to Fargate and must restore verbatim. */
export function placementOf(spec: V1PodSpec | undefined) {
  return {
    nodeSelector: spec?.nodeSelector,
    tolerations: spec?.tolerations,
    nodeAffinity: spec?.affinity?.nodeAffinity,
    topologySpreadConstraints: spec?.topologySpreadConstraints,
  };
}

export type Placement = ReturnType<typeof placementOf>;
