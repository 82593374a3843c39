// Drain guards. Karpenter, aws-node-termination-handler and managed node groups read the same warning and
// evict the doomed node's pods through the Eviction API within a second; a Fargate replacement needs 30-90 s.
// While a move off spot rolls, a PodDisruptionBudget with `maxUnavailable: 0` over the moving Deployment's
// pods of the ReplicaSets on the doomed node makes those evictions wait. It counts against `spec.replicas`
// (the disruption controller takes the Deployment's scale) only the old pods, so it never allows an
// eviction: the old pods go as the rollout removes them, one for each replacement Ready (the surge), and
// an eviction cannot race the rollout's own removal. The guard is deleted with the move's verdict or at the
// node's deadline less the pods' grace period, whichever comes first, so the node still drains in time; a
// guard left by a leader that died is found by its label and deleted by the next.
import type { V1Deployment, V1Pod, V1PodDisruptionBudget } from "@kubernetes/client-node";
import { isOffSpot, PREFIX, requestedCompute, Annotation } from "../../core/contract.ts";
import { toError } from "../../core/errors.ts";
import { classify, statusOf, WriteLane, type Kube } from "../../core/kube.ts";
import { isEmptySelector, selectorMatches } from "../../core/labelSelector.ts";
import type { Logger } from "../../core/log.ts";
import { parseTime, rfc3339 } from "../../core/time.ts";
import { selects } from "../cluster/affectedDeployments.ts";
import type { PodLookup } from "../cluster/podIndex.ts";
import { keyOf, refOf, type DeploymentRef } from "./deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { OptInScope } from "../../core/contract.ts";

/** The label every drain guard carries (value `true`; its owner reference names the Deployment). */
export const GUARD_LABEL = `${PREFIX}drain-guard`;
/** The guard's annotation: when it is deleted at the latest (RFC 3339). */
export const GUARD_UNTIL = `${PREFIX}guard-until`;

/** Kubernetes' default `terminationGracePeriodSeconds`. */
const DEFAULT_GRACE_SECONDS = 30;
const MAX_NAME = 253;
const POD_TEMPLATE_HASH = "pod-template-hash";
const SUFFIX = "-spot-orchestrator-guard";

export type GuardOutcome =
  | { guarded: true; until: Date; name: string }
  | { guarded: false; why: "user-pdb" | "too-late" | "failed" | "nothing-on-node"; detail: string };

/** The guard's name: the Deployment's, suffixed (names of 253 characters or less, like the PDB's). */
export function guardName(deployment: string): string {
  return `${deployment.slice(0, MAX_NAME - SUFFIX.length)}${SUFFIX}`;
}

/** When a guard goes at the latest: the node's deadline less the pods' grace period, so the drain finishes. */
export function guardUntil(deployment: V1Deployment, deadline: Date): Date {
  const grace = deployment.spec?.template?.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  return new Date(deadline.getTime() - grace * 1000);
}

/** The `pod-template-hash` of each of the Deployment's ReplicaSets with pods on the node, in order. */
export function hashesOn(deployment: V1Deployment, podsOnNode: V1Pod[]): string[] {
  const hashes = podsOnNode
    .filter((p) => p.metadata?.namespace === deployment.metadata?.namespace && selects(deployment, p))
    .map((p) => p.metadata?.labels?.[POD_TEMPLATE_HASH])
    .filter((h): h is string => h !== undefined && h !== "");
  return [...new Set(hashes)].sort();
}

/**
 * The PodDisruptionBudget guarding the pods of `deployment`'s ReplicaSets `hashes` until `until`, owned by
 * the Deployment.
 */
export function guardFor(deployment: V1Deployment, until: Date, hashes: string[]): V1PodDisruptionBudget {
  const { namespace, name } = refOf(deployment);
  const selector = deployment.spec?.selector ?? {};
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: guardName(name),
      namespace,
      labels: { [GUARD_LABEL]: "true", "app.kubernetes.io/managed-by": "spot-fargate-orchestrator" },
      annotations: { [GUARD_UNTIL]: rfc3339(until) },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "Deployment", name, uid: deployment.metadata?.uid ?? "" },
      ],
    },
    spec: {
      maxUnavailable: 0,
      selector: {
        ...selector,
        matchExpressions: [
          ...(selector.matchExpressions ?? []),
          { key: POD_TEMPLATE_HASH, operator: "In", values: hashes },
        ],
      },
      // a pod that is not Ready (crashing, say) is no capacity to keep: its eviction is never held
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}

/** A PodDisruptionBudget of someone else's that covers the Deployment's pods, if any. */
export function userBudgetOver(
  deployment: V1Deployment,
  budgets: V1PodDisruptionBudget[],
): V1PodDisruptionBudget | undefined {
  const labels = deployment.spec?.template?.metadata?.labels ?? {};
  return budgets.find((b) => {
    if (b.metadata?.labels?.[GUARD_LABEL] !== undefined) return false;
    const selector = b.spec?.selector;
    // an empty selector in policy/v1 selects every pod of the namespace
    return selector === undefined || isEmptySelector(selector) || selectorMatches(selector, labels);
  });
}

/** Whether a guard still has a move to guard: its Deployment is listed, off spot, and rolling. */
function stillMoving(guard: V1PodDisruptionBudget, deployments: Map<string, V1Deployment>): boolean {
  const owner = guard.metadata?.ownerReferences?.find((o) => o.kind === "Deployment");
  const d = deployments.get(`${guard.metadata?.namespace}/${owner?.name}`);
  return (
    d !== undefined &&
    d.metadata?.uid === owner?.uid &&
    isOffSpot(requestedCompute(d)) &&
    d.metadata?.annotations?.[Annotation.rollout] === "progressing"
  );
}

export interface DrainGuardDeps {
  kube: Kube;
  /** The pods by node (the watcher's pod index). */
  pods: Pick<PodLookup, "onNode">;
  scope: OptInScope;
  metrics: WatcherMetrics;
  log: Logger;
  now?: () => number;
}

export class DrainGuards {
  private readonly deps: DrainGuardDeps;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly releasing = new Set<Promise<void>>();
  /** Lists of the user's budgets under way, by namespace. */
  private readonly budgetLists = new Map<string, Promise<V1PodDisruptionBudget[]>>();

  constructor(deps: DrainGuardDeps) {
    this.deps = deps;
  }

  /**
   * Holds evictions of the moving Deployment's pods until its verdict or `deadline` less their grace period.
   * Leaves them to a user's own PodDisruptionBudget over the same pods (the Eviction API refuses a pod that
   * two budgets cover, and drainers then retry to no end).
   */
  async guard(deployment: V1Deployment, node: string, deadline: Date, log: Logger): Promise<GuardOutcome> {
    const { metrics } = this.deps;
    const ref = refOf(deployment);
    const until = guardUntil(deployment, deadline);
    const outcome = await this.create(deployment, hashesOn(deployment, this.deps.pods.onNode(node)), until);
    metrics.drainGuards.inc({ result: outcome.guarded ? "created" : outcome.why });
    if (outcome.guarded) {
      log.info(
        { guard: outcome.name, until: rfc3339(until) },
        "evictions of its pods held until replacements are Ready",
      );
      this.deleteAt(ref, until);
    } else if (outcome.why === "failed") {
      log.warn(
        { why: outcome.detail },
        "drain guard not created; drainers may evict its pods before replacements are Ready",
      );
    } else {
      log.info({ why: outcome.detail }, "no drain guard");
    }
    return outcome;
  }

  private async create(deployment: V1Deployment, hashes: string[], until: Date): Promise<GuardOutcome> {
    const { kube } = this.deps;
    const ref = refOf(deployment);
    const now = this.now();
    if (hashes.length === 0) {
      return { guarded: false, why: "nothing-on-node", detail: "none of its pods is on the node any more" };
    }
    if (until.getTime() <= now) {
      const detail = `the node's deadline less the pods' grace period (${rfc3339(until)}) has passed`;
      return { guarded: false, why: "too-late", detail };
    }
    const body = guardFor(deployment, until, hashes);
    const name = body.metadata!.name!;
    try {
      const user = userBudgetOver(deployment, await this.userBudgets(ref.namespace));
      if (user !== undefined) {
        const detail = `its pods are covered by PodDisruptionBudget ${ref.namespace}/${user.metadata?.name}, which governs their evictions`;
        return { guarded: false, why: "user-pdb", detail };
      }
      await kube.limiter.take(WriteLane.guard);
      await kube.policy.createNamespacedPodDisruptionBudget({ namespace: ref.namespace, body });
      return { guarded: true, until, name };
    } catch (err) {
      // a redelivered event finds the guard its first handling made
      if (statusOf(err) === 409) return { guarded: true, until, name };
      return {
        guarded: false,
        why: "failed",
        detail: classify(err, `create PodDisruptionBudget ${ref.namespace}/${name}`).message,
      };
    }
  }

  /**
   * The PodDisruptionBudgets of the namespace but the guards (a storm's own guards would make each list grow
   * with the moves); the moves of one storm that ask while a list is under way share it.
   */
  private userBudgets(namespace: string): Promise<V1PodDisruptionBudget[]> {
    const known = this.budgetLists.get(namespace);
    if (known !== undefined) return known;
    const list = this.deps.kube.policy
      .listNamespacedPodDisruptionBudget({ namespace, labelSelector: `!${GUARD_LABEL}` })
      .then((l) => l.items)
      .finally(() => this.budgetLists.delete(namespace));
    this.budgetLists.set(namespace, list);
    return list;
  }

  /** Deletes the Deployment's guard, if it has one (the move's verdict is written, or its time is up). */
  release(ref: DeploymentRef, why: "verdict" | "deadline" | "leftover"): Promise<void> {
    clearTimeout(this.timers.get(keyOf(ref)));
    this.timers.delete(keyOf(ref));
    const released = this.delete(ref, why);
    this.releasing.add(released);
    void released.finally(() => this.releasing.delete(released));
    return released;
  }

  private async delete(ref: DeploymentRef, why: "verdict" | "deadline" | "leftover"): Promise<void> {
    const { kube, metrics, log } = this.deps;
    const name = guardName(ref.name);
    try {
      await kube.limiter.take(WriteLane.routine);
      await kube.policy.deleteNamespacedPodDisruptionBudget({ namespace: ref.namespace, name });
      metrics.drainGuards.inc({ result: `released-${why}` });
      log.info({ ...ref, guard: name, why }, "drain guard deleted");
    } catch (err) {
      if (statusOf(err) === 404) return;
      metrics.drainGuards.inc({ result: "failed" });
      log.error(
        { ...ref, guard: name, err: toError(err) },
        "deleting the drain guard failed; the next leader deletes it",
      );
    }
  }

  /**
   * At the start of a term: deletes the guards whose move is over or whose time is up (left by a leader
   * that died), and keeps the deadline of the rest. `deployments`: the opted-in Deployments as listed.
   */
  async sweep(deployments: V1Deployment[]): Promise<void> {
    const byKey = new Map(deployments.map((d) => [keyOf(refOf(d)), d]));
    for (const guard of await this.list()) {
      const owner = guard.metadata?.ownerReferences?.find((o) => o.kind === "Deployment");
      const ref = { namespace: guard.metadata?.namespace ?? "", name: owner?.name ?? "" };
      const until = parseTime(guard.metadata?.annotations?.[GUARD_UNTIL]);
      if (until === undefined || until <= this.now() || !stillMoving(guard, byKey)) {
        await this.release(ref, "leftover");
      } else {
        this.deleteAt(ref, new Date(until));
      }
    }
  }

  private async list(): Promise<V1PodDisruptionBudget[]> {
    const { kube, scope } = this.deps;
    const labelSelector = GUARD_LABEL;
    try {
      const lists =
        scope.namespaces.length === 0
          ? [await kube.policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector })]
          : await Promise.all(
              scope.namespaces.map((namespace) =>
                kube.policy.listNamespacedPodDisruptionBudget({ namespace, labelSelector }),
              ),
            );
      return lists.flatMap((l) => l.items);
    } catch (err) {
      throw classify(err, "list PodDisruptionBudgets");
    }
  }

  /** Stops the deadlines kept in this process (the term ended); the next leader's sweep keeps them again. */
  async stop(): Promise<void> {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.releasing]);
  }

  private deleteAt(ref: DeploymentRef, until: Date): void {
    clearTimeout(this.timers.get(keyOf(ref)));
    const timer = setTimeout(
      () => void this.release(ref, "deadline"),
      Math.max(0, until.getTime() - this.now()),
    );
    this.timers.set(keyOf(ref), timer);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}
