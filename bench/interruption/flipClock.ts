// Times a flip from the outside: a watch on the namespace's Deployments notes when each expected one is
// first seen with compute=fargate, as any client of the apiserver would see it.
import { Watch, type KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { pollUntil } from "./pollUntil.ts";

export interface FlipClock {
  /** performance.now() at which the last expected Deployment showed compute=fargate. */
  allFlipped(timeoutMs: number): Promise<number>;
  stop(): void;
}

/** Starts watching and resolves once the watch has listed every expected Deployment (none flipped yet). */
export async function startFlipClock(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  expected: readonly string[],
): Promise<FlipClock> {
  const wanted = new Set(expected);
  const seen = new Set<string>();
  const flippedAt = new Map<string, number>();
  let failure: Error | undefined;
  const controller = await new Watch(kc).watch(
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { labelSelector },
    (_phase, object: V1Deployment) => {
      const name = object.metadata?.name ?? "";
      if (!wanted.has(name)) return;
      seen.add(name);
      if (object.metadata?.annotations?.[Annotation.compute] === "fargate" && !flippedAt.has(name)) {
        flippedAt.set(name, performance.now());
      }
    },
    (err: unknown) => {
      if (flippedAt.size < wanted.size)
        failure = new Error(`the Deployment watch ended early: ${String(err)}`);
    },
  );
  const check = () => {
    if (failure) throw failure;
  };
  try {
    await pollUntil(
      `the watch to list ${wanted.size} Deployments`,
      () => (check(), seen.size === wanted.size),
      {
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
  } catch (err) {
    controller.abort();
    throw err;
  }
  if (flippedAt.size > 0) {
    controller.abort();
    throw new Error(`${flippedAt.size} Deployments already had compute=fargate before the event`);
  }
  return {
    async allFlipped(timeoutMs) {
      try {
        await pollUntil(
          `${wanted.size} Deployments to show compute=fargate`,
          () => (check(), flippedAt.size === wanted.size),
          { timeoutMs, intervalMs: 5 },
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} (${flippedAt.size} of ${wanted.size} flipped)`, {
          cause: err,
        });
      }
      return Math.max(...flippedAt.values());
    },
    stop: () => controller.abort(),
  };
}
