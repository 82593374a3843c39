// The watcher's in-memory view of the cluster, kept by watches in every replica (a new leader starts warm):
// nodes, the pods that hold them, and the Deployments of the watched namespaces.
import type { Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { DeploymentIndex, type DeploymentLookup } from "./deploymentIndex.ts";
import { NodeIndex, type NodeLookup } from "./nodeIndex.ts";
import { PodIndex, type PodLookup } from "./podIndex.ts";
import type { OptInScope } from "../../core/contract.ts";

export interface ClusterLookup {
  nodes: NodeLookup;
  pods: PodLookup;
  deployments: DeploymentLookup;
  /** Resolves once each index has its first full list. */
  readonly synced: Promise<void>;
}

export class ClusterIndex implements ClusterLookup {
  readonly nodes: NodeIndex;
  readonly pods: PodIndex;
  readonly deployments: DeploymentIndex;
  readonly synced: Promise<void>;

  constructor(options: { kube: Kube; log: Logger; scope: OptInScope }) {
    this.nodes = new NodeIndex(options);
    this.pods = new PodIndex(options);
    this.deployments = new DeploymentIndex(options);
    this.synced = Promise.all([this.nodes.synced, this.pods.synced, this.deployments.synced]).then(
      () => undefined,
    );
  }

  /** Starts listing and watching; returns at once (await `synced`). */
  start(): void {
    this.nodes.start();
    this.pods.start();
    this.deployments.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.nodes.stop(), this.pods.stop(), this.deployments.stop()]);
  }
}
