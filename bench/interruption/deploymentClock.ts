// Times Deployments reaching a state from the outside: a watch on the namespace's Deployments notes when each
// expected one is first seen in it (compute=fargate stored, rollout=healthy written), as any client of the
// apiserver would see it.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { pollUntil } from "./pollUntil.ts";
import { resumableWatch } from "./resumableWatch.ts";

/** A state a Deployment reaches, and what says it never will. */
export interface DeploymentState {
  /** How the state reads in messages: "compute=fargate". */
  what: string;
  reached(deployment: V1Deployment): boolean;
  /** A reason the state will not come (a failed verdict); undefined while it still may. */
  failed?(deployment: V1Deployment): string | undefined;
}

export const flippedToFargate: DeploymentState = {
  what: "compute=fargate",
  reached: (d) => d.metadata?.annotations?.[Annotation.compute] === "fargate",
};

export const rolloutHealthy: DeploymentState = {
  what: "rollout=healthy",
  reached: (d) => d.metadata?.annotations?.[Annotation.rollout] === "healthy",
  failed: (d) => {
    const rollout = d.metadata?.annotations?.[Annotation.rollout];
    return rollout?.startsWith("failed") === true ? `rollout=${rollout}` : undefined;
  },
};

export interface DeploymentClock {
  /** performance.now() at which the last expected Deployment was seen in the state. */
  allReached(timeoutMs: number): Promise<number>;
  /** performance.now() at which each Deployment was first seen in the state, so far. */
  readonly reachedAt: ReadonlyMap<string, number>;
  stop(): void;
}

/** Starts watching and resolves once the watch has listed every expected Deployment (none in the state yet). */
export async function startDeploymentClock(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  expected: readonly string[],
  state: DeploymentState,
): Promise<DeploymentClock> {
  const wanted = new Set(expected);
  const seen = new Set<string>();
  const reachedAt = new Map<string, number>();
  let failure: Error | undefined;
  const watch = await resumableWatch<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { labelSelector },
    (_type, object) => {
      const name = object.metadata?.name ?? "";
      if (!wanted.has(name)) return;
      seen.add(name);
      if (state.reached(object) && !reachedAt.has(name)) reachedAt.set(name, performance.now());
      const why = state.failed?.(object);
      if (why !== undefined) failure ??= new Error(`${name}: ${why}`);
    },
    (err) => (failure ??= err),
  );
  const check = () => {
    if (failure) throw failure;
  };
  try {
    await pollUntil(
      `the watch to list ${wanted.size} Deployments`,
      () => (check(), seen.size === wanted.size),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
  } catch (err) {
    watch.stop();
    throw err;
  }
  if (reachedAt.size > 0) {
    watch.stop();
    throw new Error(`${reachedAt.size} Deployments already had ${state.what} before the event`);
  }
  return {
    async allReached(timeoutMs) {
      try {
        await pollUntil(
          `${wanted.size} Deployments to show ${state.what}`,
          () => (check(), reachedAt.size === wanted.size),
          { timeoutMs, intervalMs: 5 },
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} (${reachedAt.size} of ${wanted.size} there)`, {
          cause: err,
        });
      }
      return Math.max(...reachedAt.values());
    },
    reachedAt,
    stop: () => watch.stop(),
  };
}
