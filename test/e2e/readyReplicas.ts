// How many Ready pods each app has, second by second, from two sources that must agree: a watch of the
// namespace's pods replayed change by change (exact: every transition, none between samples), and a list
// every 200 ms. A pod counts while it is Ready and not terminating (a terminating pod leaves its Service's
// ready endpoints).
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { isPodReady } from "../../watcher/cluster/pods.ts";

interface Sample {
  at: number;
  ready: Map<string, number>;
}

export interface ReadyReplicas {
  /** The fewest Ready pods of `app` seen from `from` to `to` (epoch ms), by the watch and by the sampler. */
  fewest(app: string, from: number, to: number): { watched: number; sampled: number };
  /** When `app` last had fewer than `replicas` Ready pods in [from, to], by the watch; undefined if never. */
  belowSince(app: string, replicas: number, from: number, to: number): number | undefined;
  stop(): Promise<void>;
}

const counts = (pods: Iterable<V1Pod>): Map<string, number> => {
  const ready = new Map<string, number>();
  for (const pod of pods) {
    const app = pod.metadata?.labels?.app;
    if (app === undefined || pod.metadata?.deletionTimestamp !== undefined || !isPodReady(pod)) continue;
    ready.set(app, (ready.get(app) ?? 0) + 1);
  }
  return ready;
};

export async function trackReadyReplicas(kc: KubeConfig, namespace: string): Promise<ReadyReplicas> {
  const core = kc.makeApiClient(CoreV1Api);
  const watched: Sample[] = [];
  const sampled: Sample[] = [];
  const pods = new Map<string, V1Pod>();
  let failure: unknown;
  let running = true;

  // a watch ends now and then (the server's timeout, the client's): it is resumed from the last version seen,
  // or from a new list when that version is gone (410), recording what changed in between
  let resourceVersion = "";
  let request: AbortController | undefined;
  const relist = async () => {
    const list = await core.listNamespacedPod({ namespace });
    pods.clear();
    for (const pod of list.items) pods.set(pod.metadata?.uid ?? "", pod);
    watched.push({ at: Date.now(), ready: counts(pods.values()) });
    resourceVersion = list.metadata?.resourceVersion ?? "";
  };
  let expired = false;
  const watchFrom = async (): Promise<void> => {
    expired = false;
    request = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { resourceVersion, allowWatchBookmarks: true },
      (type: string, pod: V1Pod) => {
        if (type === "ERROR") {
          expired = (pod as { code?: number }).code === 410;
          return;
        }
        resourceVersion = pod.metadata?.resourceVersion ?? resourceVersion;
        if (type === "BOOKMARK") return;
        const uid = pod.metadata?.uid ?? "";
        if (type === "DELETED") pods.delete(uid);
        else if (type === "ADDED" || type === "MODIFIED") pods.set(uid, pod);
        watched.push({ at: Date.now(), ready: counts(pods.values()) });
      },
      (err: unknown) => {
        if (!running) return;
        const gone = expired || (err as { code?: number } | undefined)?.code === 410;
        (gone ? relist() : Promise.resolve()).then(watchFrom).catch((e: unknown) => (failure = e));
      },
    );
  };
  await relist();
  await watchFrom();

  const sampler = (async () => {
    while (running) {
      const list = await core.listNamespacedPod({ namespace });
      sampled.push({ at: Date.now(), ready: counts(list.items) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  /** The samples in force during [from, to]: the last one before `from`, then every one up to `to`. */
  const during = (samples: Sample[], from: number, to: number) => {
    if (failure !== undefined) throw new Error(`the pod watch failed: ${String(failure)}`);
    const before = samples.filter((s) => s.at <= from).at(-1);
    return [...(before ? [before] : []), ...samples.filter((s) => s.at > from && s.at <= to)];
  };
  const fewestOf = (samples: Sample[], app: string) => Math.min(...samples.map((s) => s.ready.get(app) ?? 0));

  return {
    fewest(app, from, to) {
      return {
        watched: fewestOf(during(watched, from, to), app),
        sampled: fewestOf(during(sampled, from, to), app),
      };
    },
    belowSince(app, replicas, from, to) {
      return during(watched, from, to).find((s) => (s.ready.get(app) ?? 0) < replicas)?.at;
    },
    async stop() {
      running = false;
      request?.abort();
      await sampler;
    },
  };
}
