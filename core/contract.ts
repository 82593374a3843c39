// The annotation contract: every key, value and name that users, the chart and both processes rely on.

export const PREFIX = "spot-orchestrator.io/";

export const Annotation = {
  enabled: `${PREFIX}enabled`,
  compute: `${PREFIX}compute`,
  reason: `${PREFIX}reason`,
  changedAt: `${PREFIX}changed-at`,
  changedBy: `${PREFIX}changed-by`,
  interruptedNode: `${PREFIX}interrupted-node`,
  rollout: `${PREFIX}rollout`,
  spotPlacement: `${PREFIX}spot-placement`,
  failedRecoveryAttempts: `${PREFIX}failed-recovery-attempts`,
  lastRecoveryAt: `${PREFIX}last-recovery-at`,
  healthPath: `${PREFIX}health-path`,
  priority: `${PREFIX}priority`,
  recoveringFrom: `${PREFIX}recovering-from`,
  /** The Deployment's own `spec.strategy` (JSON), kept while a move rolls with the surge (core/moveStrategy.ts). */
  strategy: `${PREFIX}strategy`,
  /** When AWS emitted the interruption that started the move off spot (RFC 3339). */
  interruptedAt: `${PREFIX}interrupted-at`,
  /** When the interrupted node goes (RFC 3339): `instance-action-time`, else the event's time + 2 min. */
  deadline: `${PREFIX}deadline`,
} as const;

/** Label on the Deployment's own metadata so `kubectl get deploy -L` shows the state. */
export const COMPUTE_LABEL = `${PREFIX}compute`;

export const COMPUTE_TYPES = ["spot", "fargate", "on-demand"] as const;
export type Compute = (typeof COMPUTE_TYPES)[number];
/** Where a Deployment goes off spot: Fargate, or on-demand EC2 nodes as the fallback. */
export type OffSpot = Exclude<Compute, "spot">;

/** How messages name where each compute runs. */
export const PLACE_NAME: Record<Compute, string> = {
  spot: "spot",
  fargate: "Fargate",
  "on-demand": "on-demand nodes",
};

export const ENABLED_VALUES = ["true", "false"] as const;

export const REASONS = [
  "spot-interruption",
  "capacity-reservation-interruption",
  "rebalance-recommendation",
  "instance-stopping",
  "scheduled-change",
  "asg-termination",
  "recovery",
  "rollback",
  "manual",
] as const;
export type Reason = (typeof REASONS)[number];

export type RolloutState = "progressing" | "healthy" | `failed: ${string}`;

/** Kubernetes Event reasons recorded on the Deployment (and, for the watcher's own troubles, on its Pod). */
export const EventReason = {
  migratingToFargate: "MigratingToFargate",
  migratedToFargate: "MigratedToFargate",
  migrationFailed: "MigrationFailed",
  fargateIncompatible: "FargateIncompatible",
  recoveringToSpot: "RecoveringToSpot",
  recoveredToSpot: "RecoveredToSpot",
  recoveryRolledBack: "RecoveryRolledBack",
  placementRepaired: "PlacementRepaired",
  /** An apply moved the Deployment back to spot while the webhook was down; the drift pass restored it. */
  applyReverted: "ApplyReverted",
  rebalanceRecommended: "RebalanceRecommended",
  scheduledChangeAnnounced: "ScheduledChangeAnnounced",
  instanceTerminating: "InstanceTerminating",
  /** On the Deployments an event would have moved and on the watcher's Pod: its last attempt failed. */
  interruptionGivenUp: "InterruptionGivenUp",
  /** On the watcher's Pod. */
  queueUnreachable: "QueueUnreachable",
  queueReachable: "QueueReachable",
  migratingToOnDemand: "MigratingToOnDemand",
  migratedToOnDemand: "MigratedToOnDemand",
  fargateBudgetExceeded: "FargateBudgetExceeded",
  pendingOnFargate: "PendingOnFargate",
  /** The move cannot be Ready off spot before its node's deadline (expected start-up, launch rate). */
  deadlineAtRisk: "DeadlineAtRisk",
  /** No drain guard for the move: a PodDisruptionBudget of the user's governs its pods, or it is too late. */
  drainGuardSkipped: "DrainGuardSkipped",
} as const;

/** Taints and labels that EKS and Karpenter put on nodes. */
export const NodeLabel = {
  capacityType: "eks.amazonaws.com/capacityType",
  karpenterCapacityType: "karpenter.sh/capacity-type",
  computeType: "eks.amazonaws.com/compute-type",
  zone: "topology.kubernetes.io/zone",
} as const;

export function isCompute(value: unknown): value is Compute {
  return typeof value === "string" && (COMPUTE_TYPES as readonly string[]).includes(value);
}

export function isReason(value: unknown): value is Reason {
  return typeof value === "string" && (REASONS as readonly string[]).includes(value);
}

type Annotated = { metadata?: { annotations?: Record<string, string> | undefined } | undefined };

export function isOptedIn(obj: Annotated): boolean {
  return obj.metadata?.annotations?.[Annotation.enabled] === "true";
}

/** Where the settings extend opting in: `kubernetes.deployment_name` counts in the watched namespaces. */
export interface OptInScope {
  /** `kubernetes.namespace`: the watched namespaces; empty means all. */
  namespaces: string[];
  /** `kubernetes.deployment_name`: this Deployment counts as opted in without the annotation. */
  deploymentName: string;
}

/**
 * The opt-in rule, for the webhook and the watcher alike: the `enabled` annotation, or the Deployment the
 * settings name (in a watched namespace). `namespace`: where the object is, when its metadata does not say
 * (an admission request's object may leave it to the request).
 */
export function countsAsOptedIn(
  obj: Annotated & { metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined },
  scope: OptInScope,
  namespace: string = obj.metadata?.namespace ?? "",
): boolean {
  if (isOptedIn(obj)) return true;
  const named = scope.deploymentName !== "" && obj.metadata?.name === scope.deploymentName;
  return named && (scope.namespaces.length === 0 || scope.namespaces.includes(namespace));
}

export function isOffSpot(compute: Compute | undefined): compute is OffSpot {
  return compute === "fargate" || compute === "on-demand";
}

/** The `priority` annotation's values: a whole number (higher moves to Fargate first under a budget). */
export function isPriority(value: string): boolean {
  return /^[+-]?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= 2 ** 31 - 1;
}

/** The Deployment's `priority` annotation; 0 when absent or not a whole number. */
export function priorityOf(obj: Annotated): number {
  const value = obj.metadata?.annotations?.[Annotation.priority];
  return value !== undefined && isPriority(value) ? Number(value) : 0;
}

/** The compute a Deployment asks for: absent means spot. Returns undefined for an invalid value. */
export function requestedCompute(obj: Annotated): Compute | undefined {
  const value = obj.metadata?.annotations?.[Annotation.compute];
  if (value === undefined) return "spot";
  return isCompute(value) ? value : undefined;
}
