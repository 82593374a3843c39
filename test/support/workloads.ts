// Small sample workloads for the end-to-end tests and the demo.
import type { V1Deployment, V1PodSpec, V1Service } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";

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
