// How a move rolls. A move (to Fargate or on-demand, back to spot, a rollback) is a rollout the product
// starts, so it rolls the product's way: every replacement starts at once and no old pod goes before a new
// one is Ready (`maxSurge: 100%`, `maxUnavailable: 0`), whatever the Deployment's own strategy. That
// strategy is stashed in an annotation for the move and put back, as it was, with the move's verdict.
//
// One exception: a `Recreate` Deployment whose pods mount a PersistentVolumeClaim keeps `Recreate`. Such a
// volume is usually one only one pod can mount (ReadWriteOnce): a surge would leave every new pod waiting for
// a volume the old pod holds until the node dies, so the move would gain nothing and risk its deadline.
import type { V1Deployment, V1DeploymentStrategy } from "@kubernetes/client-node";
import { Annotation } from "./contract.ts";

/** The strategy a move rolls with. */
export const SURGE_STRATEGY: V1DeploymentStrategy = {
  type: "RollingUpdate",
  rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 },
};

type Annotated = Pick<V1Deployment, "metadata">;

/** True when the Deployment's moves keep its own strategy (see the file's comment). */
export function keepsOwnStrategy(deployment: Pick<V1Deployment, "spec">): boolean {
  const spec = deployment.spec;
  if (spec?.strategy?.type !== "Recreate") return false;
  return (spec.template?.spec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim !== undefined);
}

/** The Deployment's own strategy as stashed for a move, or undefined when nothing is stashed (or it is unreadable). */
export function stashedStrategy(deployment: Annotated): V1DeploymentStrategy | undefined {
  const raw = deployment.metadata?.annotations?.[Annotation.strategy];
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as V1DeploymentStrategy)
      : undefined;
  } catch {
    return undefined;
  }
}

export function isStashed(deployment: Annotated): boolean {
  return deployment.metadata?.annotations?.[Annotation.strategy] !== undefined;
}

/** The annotation value that stashes `strategy`. */
export function strategyStash(strategy: V1DeploymentStrategy | undefined): string {
  return JSON.stringify(strategy ?? {});
}

/** True when `strategy` is the one moves roll with. */
export function isSurge(strategy: V1DeploymentStrategy | undefined): boolean {
  return sameStrategy(strategy, SURGE_STRATEGY);
}

export function sameStrategy(
  a: V1DeploymentStrategy | undefined,
  b: V1DeploymentStrategy | undefined,
): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(strategy: V1DeploymentStrategy | undefined): unknown {
  const rolling = strategy?.rollingUpdate;
  return [
    strategy?.type ?? null,
    rolling === undefined ? null : [rolling.maxSurge ?? null, rolling.maxUnavailable ?? null],
  ];
}

/**
 * A JSON merge patch of `spec.strategy` that leaves exactly `strategy` stored: keys it lacks are removed,
 * so a strategy is put back as it was (a Recreate loses the surge's `rollingUpdate`).
 */
export function strategyMergePatch(strategy: V1DeploymentStrategy): Record<string, unknown> {
  const rolling = strategy.rollingUpdate;
  return {
    type: strategy.type ?? null,
    rollingUpdate:
      rolling === undefined || rolling === null
        ? null
        : { maxSurge: rolling.maxSurge ?? null, maxUnavailable: rolling.maxUnavailable ?? null },
  };
}
