// Small sample workloads for the end-to-end tests and the demo.
import type { V1Deployment, V1DeploymentStrategy, V1PodSpec, V1Service } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { startupDelayAnnotation } from "../../harness/cluster/kwok-stages.ts";

export function optedInApp(
  name: string,
  replicas: number,
  nodeSelector: Record<string, string>,
  options: { spreadOverNodes?: boolean } = {},
): V1Deployment {
  return {
    metadata: { name, annotations: { [Annotation.enabled]: "true" } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector,
          ...(options.spreadOverNodes
            ? {
                topologySpreadConstraints: [
                  {
                    maxSkew: 1,
                    topologyKey: "kubernetes.io/hostname",
                    whenUnsatisfiable: "DoNotSchedule",
                    labelSelector: { matchLabels: { app: name } },
                  },
                ],
              }
            : {}),
          containers: [
            {
              name: "app",
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

export function serviceFor(app: string): V1Service {
  return {
    metadata: { name: app },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

/** A Deployment of no replicas, for what admission and the watcher do to its object alone. */
export function emptyApp(
  name: string,
  annotations: Record<string, string>,
  spec: Partial<V1PodSpec> = {},
): V1Deployment {
  return {
    metadata: { name, annotations },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }], ...spec },
      },
    },
  };
}

/** The sizes and strategies users give their Deployments, each a move must keep whole. */
export const USUAL_SHAPES: Record<string, { replicas: number; strategy?: V1DeploymentStrategy }> = {
  small: { replicas: 3 },
  orders: { replicas: 8 },
  search: { replicas: 12, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "50%" } } },
  quota: {
    replicas: 6,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
  },
  single: { replicas: 2, strategy: { type: "Recreate" } },
};

/**
 * An opted-in Deployment of that shape in the node group, spread over its nodes, whose EC2 pods are Ready
 * 1.5 s after binding (an image already cached).
 */
export function shapedApp(
  name: string,
  shape: { replicas: number; strategy?: V1DeploymentStrategy | undefined },
  group: string,
): V1Deployment {
  const app = optedInApp(
    name,
    shape.replicas,
    { "eks.amazonaws.com/nodegroup": group },
    { spreadOverNodes: true },
  );
  if (shape.strategy) app.spec!.strategy = shape.strategy;
  app.spec!.template.metadata!.annotations = { [startupDelayAnnotation]: "1500ms" };
  return app;
}
