// The pods that hold a node, by node: an interruption finds the pods on its node without asking the
// apiserver, and recovery counts what each node already runs. Only what the watcher reads of a pod is kept.
import type { KubernetesObject, V1Container, V1Pod } from "@kubernetes/client-node";
import type { Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { Mirror } from "./mirror.ts";

export interface PodLookup {
  /** The pods bound to `node` that still hold it. */
  onNode(node: string): V1Pod[];
  /** Every pod that holds a node. */
  all(): V1Pod[];
  readonly synced: Promise<void>;
}

/** Only pods bound to a node and not finished: the apiserver filters the list and the watch alike. */
export const HOLDING_A_NODE = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed";

/** A container's name, resources and (init containers) restart policy: what its pod's requests count. */
function slimContainer({ name, restartPolicy, resources }: V1Container): V1Container {
  const { requests, limits } = resources ?? {};
  return {
    name,
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(requests === undefined && limits === undefined ? {} : { resources: { requests, limits } }),
  };
}

/**
 * What the watcher reads of a pod: name, labels, its controller, deletion, node, phase and the requests of
 * its containers. Images, commands, environment, volumes, managedFields and the status details go.
 */
export function slimPod(raw: KubernetesObject): V1Pod {
  const pod = raw as V1Pod;
  const { name, namespace, resourceVersion, uid, labels, ownerReferences, deletionTimestamp } =
    pod.metadata ?? {};
  const controller = ownerReferences?.filter((ref) => ref.controller === true);
  const spec = pod.spec;
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      uid,
      labels,
      ...(controller?.length ? { ownerReferences: controller } : {}),
      ...(deletionTimestamp === undefined ? {} : { deletionTimestamp }),
    },
    spec: {
      nodeName: spec?.nodeName,
      containers: (spec?.containers ?? []).map(slimContainer),
      ...(spec?.initContainers ? { initContainers: spec.initContainers.map(slimContainer) } : {}),
      ...(spec?.overhead ? { overhead: spec.overhead } : {}),
    },
    status: { phase: pod.status?.phase },
  };
}

export class PodIndex implements PodLookup {
  /** node → `namespace/name` → pod */
  private readonly byNode = new Map<string, Map<string, V1Pod>>();
  /** `namespace/name` → its node, to move or drop a pod whose entry changes */
  private readonly nodeOf = new Map<string, string>();
  private readonly mirror: Mirror<V1Pod>;

  constructor(options: { kube: Kube; log: Logger; resyncMs?: number }) {
    this.mirror = new Mirror<V1Pod>({
      ...options,
      path: "/api/v1/pods",
      fieldSelector: HOLDING_A_NODE,
      slim: slimPod,
      // tens of thousands of pods: relisting is costly, and a stalled watch is noticed within 30 s anyway
      resyncMs: options.resyncMs ?? 30 * 60_000,
      sink: {
        replace: (pods) => {
          this.byNode.clear();
          this.nodeOf.clear();
          for (const pod of pods) this.put(pod);
        },
        put: (pod) => this.put(pod),
        remove: (pod) => this.remove(pod),
      },
    });
  }

  get synced(): Promise<void> {
    return this.mirror.synced;
  }

  onNode(node: string): V1Pod[] {
    return [...(this.byNode.get(node)?.values() ?? [])];
  }

  all(): V1Pod[] {
    return [...this.byNode.values()].flatMap((pods) => [...pods.values()]);
  }

  start(): void {
    this.mirror.start();
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  private put(pod: V1Pod): void {
    const node = pod.spec?.nodeName;
    if (!node) return this.remove(pod);
    const key = keyOf(pod);
    const before = this.nodeOf.get(key);
    if (before !== undefined && before !== node) this.remove(pod);
    let pods = this.byNode.get(node);
    if (pods === undefined) this.byNode.set(node, (pods = new Map()));
    pods.set(key, pod);
    this.nodeOf.set(key, node);
  }

  private remove(pod: KubernetesObject): void {
    const key = keyOf(pod);
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const pods = this.byNode.get(node);
    pods?.delete(key);
    if (pods?.size === 0) this.byNode.delete(node);
  }
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}
