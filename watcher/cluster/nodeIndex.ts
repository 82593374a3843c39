// An in-memory index of the cluster's Nodes, so an event maps instance → node without listing every node,
// and recovery sees spot capacity without a list per pass. Only what the watcher reads of a Node is kept.
import type { KubernetesObject, V1Node } from "@kubernetes/client-node";
import { instanceIdOf } from "../../core/ec2.ts";
import type { Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { Mirror } from "./mirror.ts";

export interface NodeLookup {
  byInstanceId(instanceId: string): V1Node | undefined;
  byName(name: string): V1Node | undefined;
  all(): V1Node[];
  /** Resolves once the first full list is in. */
  readonly synced: Promise<void>;
}

export interface NodeIndexOptions {
  kube: Kube;
  log: Logger;
  /** Full relist this often, even when nothing failed. */
  resyncMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

/**
 * What the watcher reads of a Node: name, labels, deletion, provider id, taints, cordon, the Ready condition
 * and allocatable resources. Images, addresses, node info, managedFields and the other conditions go.
 */
export function slimNode(raw: KubernetesObject): V1Node {
  const node = raw as V1Node;
  const { name, namespace, resourceVersion, uid, labels, deletionTimestamp } = node.metadata ?? {};
  const { providerID, taints, unschedulable } = node.spec ?? {};
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  return {
    metadata: { name, namespace, resourceVersion, uid, labels, deletionTimestamp },
    spec: { providerID, taints, unschedulable },
    status: {
      ...(ready ? { conditions: [{ type: ready.type, status: ready.status }] } : {}),
      allocatable: node.status?.allocatable,
    },
  };
}

export class NodeIndex implements NodeLookup {
  private readonly nodes = new Map<string, V1Node>();
  private readonly instances = new Map<string, string>();
  private readonly mirror: Mirror<V1Node>;

  constructor(options: NodeIndexOptions) {
    this.mirror = new Mirror<V1Node>({
      ...options,
      path: "/api/v1/nodes",
      slim: slimNode,
      resyncMs: options.resyncMs ?? 5 * 60_000,
      sink: {
        replace: (nodes) => {
          this.nodes.clear();
          this.instances.clear();
          for (const node of nodes) this.put(node);
        },
        put: (node) => this.put(node),
        remove: (node) => this.remove(node),
      },
    });
  }

  get synced(): Promise<void> {
    return this.mirror.synced;
  }

  byInstanceId(instanceId: string): V1Node | undefined {
    const name = this.instances.get(instanceId);
    return name === undefined ? undefined : this.nodes.get(name);
  }

  byName(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }

  all(): V1Node[] {
    return [...this.nodes.values()];
  }

  /** Starts watching; returns at once (await `synced` for the first list). */
  start(): void {
    this.mirror.start();
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  private put(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    const previous = this.nodes.get(name);
    const oldId = previous ? instanceIdOf(previous) : undefined;
    if (oldId !== undefined && this.instances.get(oldId) === name) this.instances.delete(oldId);
    this.nodes.set(name, node);
    const id = instanceIdOf(node);
    if (id !== undefined) this.instances.set(id, name);
  }

  private remove(node: KubernetesObject): void {
    const name = node.metadata?.name;
    const previous = name === undefined ? undefined : this.nodes.get(name);
    if (name === undefined || previous === undefined) return;
    this.nodes.delete(name);
    const id = instanceIdOf(previous);
    if (id !== undefined && this.instances.get(id) === name) this.instances.delete(id);
  }
}
