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

/** What the watch has seen of the expected Deployments. */
interface Seen {
  wanted: ReadonlySet<string>;
  listed: Set<string>;
  reachedAt: Map<string, number>;
  failure: Error | undefined;
}

/** Starts watching and resolves once the watch has listed every expected Deployment (none in the state yet). */
export async function startDeploymentClock(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  expected: readonly string[],
  state: DeploymentState,
): Promise<DeploymentClock> {
  const seen: Seen = {
    wanted: new Set(expected),
    listed: new Set(),
    reachedAt: new Map(),
    failure: undefined,
  };
  const watch = await resumableWatch<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { labelSelector },
    (_type, object) => {
      const name = object.metadata?.name ?? "";
      if (!seen.wanted.has(name)) return;
      seen.listed.add(name);
      if (state.reached(object) && !seen.reachedAt.has(name)) seen.reachedAt.set(name, performance.now());
      const why = state.failed?.(object);
      if (why !== undefined) seen.failure ??= new Error(`${name}: ${why}`);
    },
    (err) => (seen.failure ??= err),
  );
  try {
    await pollUntil(
      `the watch to list ${seen.wanted.size} Deployments`,
      () => (check(seen), seen.listed.size === seen.wanted.size),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
  } catch (err) {
    watch.stop();
    throw err;
  }
  if (seen.reachedAt.size > 0) {
    watch.stop();
    throw new Error(`${seen.reachedAt.size} Deployments already had ${state.what} before the event`);
  }
  return {
    allReached: (timeoutMs) => allReached(seen, state, timeoutMs),
    reachedAt: seen.reachedAt,
    stop: () => watch.stop(),
  };
}

/** Throws what the watch failed with, or a Deployment's failure. */
function check(seen: Seen): void {
  if (seen.failure) throw seen.failure;
}

/** performance.now() at which the last expected Deployment was seen in the state. */
async function allReached(seen: Seen, state: DeploymentState, timeoutMs: number): Promise<number> {
  const { wanted, reachedAt } = seen;
  try {
    await pollUntil(
      `${wanted.size} Deployments to show ${state.what}`,
      () => (check(seen), reachedAt.size === wanted.size),
      { timeoutMs, intervalMs: 5 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (${reachedAt.size} of ${wanted.size} there)`, {
      cause: err,
    });
  }
  return Math.max(...reachedAt.values());
}
