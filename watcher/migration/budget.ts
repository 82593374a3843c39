// The Fargate budget (pure): what the opted-in Deployments on Fargate use, counted at the size Fargate gives
// each pod, and which of an interruption's Deployments fit in what is left, highest priority first.
import type { V1Deployment } from "@kubernetes/client-node";
import type { Config } from "../../core/config.ts";
import { Annotation, priorityOf, requestedCompute } from "../../core/contract.ts";
import { fargateSize } from "../../core/fargateSize.ts";
import type { ClassPriority } from "../cluster/priorityClasses.ts";
import { keyOf, refOf } from "../moves/deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";

/** vCPU and pods on Fargate. */
export interface FargateUse {
  vcpu: number;
  pods: number;
}

/** `fargate.max_vcpu` and `fargate.max_pods`; 0 is no limit. */
export type FargateBudget = FargateUse;

export function budgetOf(config: Pick<Config, "fargate">): FargateBudget {
  return { vcpu: config.fargate.maxVcpu, pods: config.fargate.maxPods };
}

export function isLimited(budget: FargateBudget): boolean {
  return budget.vcpu > 0 || budget.pods > 0;
}

/** What one Deployment takes on Fargate: replicas × the Fargate size of one pod (none: it cannot run there). */
export function fargateDemand(deployment: V1Deployment): FargateUse | undefined {
  const spec = deployment.spec?.template?.spec;
  const size = spec === undefined ? undefined : fargateSize(spec);
  if (size === undefined) return undefined;
  const replicas = deployment.spec?.replicas ?? 1;
  return { vcpu: replicas * size.vcpu, pods: replicas };
}

/**
 * True when the Deployment holds Fargate capacity: it asks for Fargate, or it is recovering from there (its
 * Fargate pods stay until their spot replacements are Ready). A move's surge adds no Fargate pods beyond
 * `spec.replicas`: the old pods it keeps are where the move comes from.
 */
export function holdsFargate(deployment: V1Deployment): boolean {
  const annotations = deployment.metadata?.annotations ?? {};
  if (requestedCompute(deployment) === "fargate") return true;
  return (
    annotations[Annotation.rollout] === "progressing" && annotations[Annotation.recoveringFrom] === "fargate"
  );
}

/** What the Deployments holding Fargate capacity among `deployments` use. */
export function fargateUse(deployments: V1Deployment[]): FargateUse {
  const use = { vcpu: 0, pods: 0 };
  for (const d of deployments) {
    if (!holdsFargate(d)) continue;
    const demand = fargateDemand(d);
    use.vcpu += demand?.vcpu ?? 0;
    use.pods += demand?.pods ?? 0;
  }
  return use;
}

/**
 * The order an interruption offers the budget in: the `priority` annotation (higher first), then the
 * pods' PriorityClass value (higher first), then namespace/name.
 */
export function byPriority(classPriority: ClassPriority): (a: V1Deployment, b: V1Deployment) => number {
  const rank = (d: V1Deployment) => [priorityOf(d), classPriority(d.spec?.template?.spec?.priorityClassName)];
  return (a, b) => {
    const [pa, ca] = rank(a);
    const [pb, cb] = rank(b);
    return pb! - pa! || cb! - ca! || keyOf(refOf(a)).localeCompare(keyOf(refOf(b)));
  };
}

export interface Allocation {
  /** In priority order. */
  fits: V1Deployment[];
  /** Why each that does not fit does not, by `namespace/name`. */
  over: Map<string, string>;
  /** What is used once those that fit are on Fargate. */
  after: FargateUse;
}

/**
 * Offers the budget left after `used` to `candidates` in priority order: each takes its share if it fits,
 * and one that does not fit leaves the rest to those after it (a smaller one may still fit).
 */
export function allocate(
  candidates: V1Deployment[],
  used: FargateUse,
  budget: FargateBudget,
  classPriority: ClassPriority,
): Allocation {
  const after = { ...used };
  const fits: V1Deployment[] = [];
  const over = new Map<string, string>();
  for (const d of [...candidates].sort(byPriority(classPriority))) {
    const demand = fargateDemand(d);
    if (demand === undefined) continue; // cannot run on Fargate at all: not the budget's business
    const short = shortfall(after, demand, budget);
    if (short === undefined) {
      fits.push(d);
      after.vcpu += demand.vcpu;
      after.pods += demand.pods;
    } else {
      over.set(keyOf(refOf(d)), short);
    }
  }
  return { fits, over, after };
}

function shortfall(used: FargateUse, demand: FargateUse, budget: FargateBudget): string | undefined {
  const problems: string[] = [];
  if (budget.vcpu > 0 && used.vcpu + demand.vcpu > budget.vcpu) {
    problems.push(
      `needs ${demand.vcpu} vCPU, ${left(budget.vcpu, used.vcpu)} of ${budget.vcpu} left (fargate.max_vcpu)`,
    );
  }
  if (budget.pods > 0 && used.pods + demand.pods > budget.pods) {
    problems.push(
      `needs ${demand.pods} pods, ${left(budget.pods, used.pods)} of ${budget.pods} left (fargate.max_pods)`,
    );
  }
  return problems.length === 0 ? undefined : `over the Fargate budget: ${problems.join("; ")}`;
}

function left(limit: number, used: number): number {
  return Math.max(0, limit - used);
}

/** `12 of 16 vCPU, 20 of 40 pods` (a limit of 0 reads `no limit`). */
export function describeUse(use: FargateUse, budget: FargateBudget): string {
  const part = (n: number, limit: number, unit: string) =>
    limit > 0 ? `${n} of ${limit} ${unit}` : `${n} ${unit} (no limit)`;
  return `${part(use.vcpu, budget.vcpu, "vCPU")}, ${part(use.pods, budget.pods, "pods")}`;
}

type BudgetGauges = Pick<WatcherMetrics, "fargateBudgetUsed" | "fargateBudgetLimit">;

/** The budget's limits as gauges; a limit of 0 (none) has no series, so dashboards show no line for it. */
export function setLimitGauges(metrics: BudgetGauges, budget: FargateBudget): void {
  if (budget.vcpu > 0) metrics.fargateBudgetLimit.set({ resource: "vcpu" }, budget.vcpu);
  if (budget.pods > 0) metrics.fargateBudgetLimit.set({ resource: "pods" }, budget.pods);
}

export function setUseGauges(metrics: BudgetGauges, use: FargateUse): void {
  metrics.fargateBudgetUsed.set({ resource: "vcpu" }, use.vcpu);
  metrics.fargateBudgetUsed.set({ resource: "pods" }, use.pods);
}
