// Every change of a namespace's Deployments' `compute` or `changed-at`, in the order the apiserver stored them:
// a list, then one watch from its resourceVersion, resumed from the last version seen whenever it ends.
import { AppsV1Api, Watch, type KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";

export interface ComputeChange {
  name: string;
  compute: string | undefined;
  reason: string | undefined;
  changedAt: string | undefined;
  interruptedNode: string | undefined;
}

export interface ComputeChanges {
  /** The changes since the watch started, in the order they were stored. */
  readonly changes: readonly ComputeChange[];
  /** Throws what ended the watch for good (its version gone), if anything did. */
  check(): void;
  stop(): void;
}

const recordOf = (d: V1Deployment): ComputeChange => {
  const a = d.metadata?.annotations ?? {};
  return {
    name: d.metadata?.name ?? "",
    compute: a[Annotation.compute],
    reason: a[Annotation.reason],
    changedAt: a[Annotation.changedAt],
    interruptedNode: a[Annotation.interruptedNode],
  };
};

export async function watchComputeChanges(kc: KubeConfig, namespace: string): Promise<ComputeChanges> {
  const list = await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
  const last = new Map(list.items.map((d) => [d.metadata?.name ?? "", recordOf(d)]));
  const changes: ComputeChange[] = [];
  let resourceVersion = list.metadata?.resourceVersion ?? "";
  let failure: Error | undefined;
  let stopped = false;
  let gone = false;
  let request: AbortController | undefined;
  const onEvent = (type: string, d: V1Deployment) => {
    if (type === "ERROR") {
      gone = (d as { code?: number }).code === 410;
      return;
    }
    resourceVersion = d.metadata?.resourceVersion ?? resourceVersion;
    if (type !== "ADDED" && type !== "MODIFIED") return;
    const record = recordOf(d);
    const before = last.get(record.name);
    if (before?.compute !== record.compute || before?.changedAt !== record.changedAt) changes.push(record);
    last.set(record.name, record);
  };
  const start = async (): Promise<void> => {
    request = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      { resourceVersion, allowWatchBookmarks: true },
      onEvent,
      (err: unknown) => {
        if (stopped) return;
        if (gone) failure ??= new Error(`the watch of Deployments lost its place (410): ${String(err)}`);
        else start().catch((e: unknown) => (failure ??= e instanceof Error ? e : new Error(String(e))));
      },
    );
  };
  await start();
  return {
    changes,
    check() {
      if (failure) throw failure;
    },
    stop() {
      stopped = true;
      request?.abort();
    },
  };
}
