// A watch that outlives client-node's: its Watch ends a request after 30 s without data (and the apiserver
// ends watches now and then), which a move waiting out a Fargate start-up easily passes. This one resumes
// from the last resourceVersion it saw (bookmarks keep that fresh) until stopped; a version the apiserver no
// longer has (410 Gone), or three failures in a row with nothing seen between them, fails it. A quiet
// watch ended by the client's own idle timeout is resumed however often that happens.
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";

export interface ResumableWatch {
  stop(): void;
}

export async function resumableWatch<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  query: { labelSelector?: string; resourceVersion?: string | undefined },
  onEvent: (type: "ADDED" | "MODIFIED" | "DELETED", object: T) => void,
  onFailure: (err: Error) => void,
): Promise<ResumableWatch> {
  let resourceVersion = query.resourceVersion;
  let stopped = false;
  let gone = false;
  let endsWithoutData = 0;
  let request: AbortController | undefined;
  const start = async () => {
    request = await new Watch(kc).watch(
      path,
      { labelSelector: query.labelSelector, resourceVersion, allowWatchBookmarks: true },
      (type: string, object: T) => {
        if (type === "ERROR") {
          gone ||= (object as { code?: number }).code === 410;
          return;
        }
        endsWithoutData = 0;
        resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") onEvent(type, object);
      },
      (err: unknown) => {
        if (stopped) return;
        const idle = err instanceof Error && err.name === "TimeoutError";
        if (gone || resourceVersion === undefined || (!idle && ++endsWithoutData >= 3)) {
          onFailure(new Error(`the watch of ${path} ended and cannot resume: ${String(err)}`));
          return;
        }
        start().catch((e: unknown) => onFailure(new Error(`resuming the watch of ${path}: ${String(e)}`)));
      },
    );
  };
  await start();
  return {
    stop() {
      stopped = true;
      request?.abort();
    },
  };
}
