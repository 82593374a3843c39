// The rule `apply-never-undoes-a-move`, in one home: an apply (Flux, Argo CD, kubectl apply) never moves a
// Deployment off Fargate (or the on-demand nodes it fell back to) while the orchestrator keeps it there; a
// person still can, imperatively (`kubectl annotate --overwrite`). What tells the two apart is what an
// applier leaves behind: a server-side apply an `Apply` managed-fields entry, a client-side apply kubectl's
// field manager or the last-applied configuration it owns. The webhook asks at admission, with the request's
// field manager; the watcher after the fact, when the webhook was down, with the manager of the stored write.
import type { V1Deployment, V1ManagedFieldsEntry } from "@kubernetes/client-node";
import {
  Annotation,
  COMPUTE_LABEL,
  isCompute,
  isOffSpot,
  requestedCompute,
  type OffSpot,
} from "./contract.ts";

export const APPLY_RULE = "apply-never-undoes-a-move";

/** kubectl's client-side apply keeps the applied manifest here (as do Argo CD and other appliers). */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** kubectl's field manager for `kubectl apply` and `kubectl diff` (client-side), with or without LAST_APPLIED. */
const KUBECTL_CLIENT_SIDE_APPLY = "kubectl-client-side-apply";

export interface Applier {
  how: "server-side apply" | "client-side apply";
  /** Its field manager ("kustomize-controller", "argocd-controller", "kubectl-client-side-apply", ...). */
  manager: string;
}

/** Where and why the orchestrator keeps a Deployment off spot. */
export interface Hold {
  compute: OffSpot;
  reason: string;
}

/**
 * Who applied a write, when it is an apply: a server-side apply leaves an `Apply` managed-fields entry for
 * its field manager; a client-side apply is kubectl's, or rewrites or owns the last-applied configuration.
 * Imperative writes (annotate, patch, scale, edit) are neither. `manager` is the write's field manager; with
 * none, a rewritten last-applied configuration (against `previous`) tells it.
 */
export function applierOfWrite(
  manager: string | undefined,
  object: V1Deployment,
  previous: V1Deployment | undefined,
): Applier | undefined {
  const entries = managedFieldsOf(object);
  if (manager !== undefined && entries.some((e) => isApplyEntry(e, manager))) {
    return { how: "server-side apply", manager };
  }
  if (manager === KUBECTL_CLIENT_SIDE_APPLY) return { how: "client-side apply", manager };
  const lastApplied = annotationOf(object, LAST_APPLIED);
  if (lastApplied === undefined) return undefined;
  const owner = entries.find((e) => ownsAnnotation(e, LAST_APPLIED))?.manager;
  const rewritten = lastApplied !== annotationOf(previous, LAST_APPLIED);
  if ((manager !== undefined && owner === manager) || (manager === undefined && rewritten)) {
    return { how: "client-side apply", manager: manager ?? owner ?? "" };
  }
  return undefined;
}

/** True when the applier's own configuration sets `compute` (not only the stored object). */
export function declaresCompute(applier: Applier, object: V1Deployment): boolean {
  if (applier.how === "server-side apply") {
    return managedFieldsOf(object).some(
      (e) => isApplyEntry(e, applier.manager) && ownsAnnotation(e, Annotation.compute),
    );
  }
  const raw = annotationOf(object, LAST_APPLIED);
  if (raw === undefined || !raw.includes(Annotation.compute)) return false;
  try {
    const applied = JSON.parse(raw) as { metadata?: { annotations?: Record<string, unknown> } };
    return applied.metadata?.annotations?.[Annotation.compute] !== undefined;
  } catch {
    return false;
  }
}

/** Where and why the orchestrator keeps the stored Deployment off spot, or undefined when it does not. */
export function orchestratorHold(stored: V1Deployment | undefined): Hold | undefined {
  const compute = stored === undefined ? undefined : requestedCompute(stored);
  if (!isOffSpot(compute)) return undefined;
  return holdFor(compute, annotationOf(stored, Annotation.reason));
}

/**
 * A move back to spot the webhook did not see (it was down; failurePolicy Ignore): `compute` says spot (or
 * is gone) while the Deployment's compute label, which the webhook and the watcher set with every move they
 * make, still says the orchestrator keeps it off spot, for a reason of its own.
 */
export function unseenMoveToSpot(stored: V1Deployment): Hold | undefined {
  if (requestedCompute(stored) !== "spot") return undefined;
  const label = stored.metadata?.labels?.[COMPUTE_LABEL];
  if (!isCompute(label) || !isOffSpot(label)) return undefined;
  return holdFor(label, annotationOf(stored, Annotation.reason));
}

/**
 * Who last changed `compute` on a stored Deployment, when it was an apply, read from its managed fields: the
 * manager that owns the annotation or, once it is gone, the one whose write is the latest (the
 * orchestrator's own, `orchestratorManager`, never removes it). Undefined when that cannot be told: a write
 * that cannot be told an apply counts as a person's.
 */
export function applierOfStoredCompute(
  stored: V1Deployment,
  orchestratorManager: string,
): Applier | undefined {
  const entries = managedFieldsOf(stored).filter((e) => !e.subresource && e.manager);
  if (annotationOf(stored, Annotation.compute) !== undefined) {
    const owner = entries.find((e) => ownsAnnotation(e, Annotation.compute));
    return owner === undefined ? undefined : applierOfWrite(owner.manager, stored, undefined);
  }
  const others = entries.filter((e) => e.manager !== orchestratorManager);
  const latest = Math.max(...others.map(timeOf));
  const last = others.filter((e) => timeOf(e) === latest);
  const appliers = last.map((e) => applierOfWrite(e.manager, stored, undefined));
  // a tie the record cannot break: only when every latest write is an apply is the removal one
  return appliers.length > 0 && appliers.every((a) => a !== undefined) ? appliers[0] : undefined;
}

/** How an applier reads in warnings and Events. */
export function describeApplier(applier: Applier): string {
  return applier.manager === "" ? applier.how : `${applier.how} by "${applier.manager}"`;
}

function holdFor(compute: OffSpot, reason: string | undefined): Hold | undefined {
  return reason === undefined || reason === "manual" ? undefined : { compute, reason };
}

function annotationOf(object: V1Deployment | undefined, key: string): string | undefined {
  return object?.metadata?.annotations?.[key];
}

function managedFieldsOf(object: V1Deployment): V1ManagedFieldsEntry[] {
  const entries: unknown = object.metadata?.managedFields;
  return Array.isArray(entries) ? (entries as V1ManagedFieldsEntry[]) : [];
}

function timeOf(entry: V1ManagedFieldsEntry): number {
  const time = entry.time === undefined ? Number.NaN : new Date(entry.time).getTime();
  return Number.isNaN(time) ? 0 : time;
}

function isApplyEntry(entry: V1ManagedFieldsEntry, manager: string): boolean {
  return entry.manager === manager && entry.operation === "Apply" && !entry.subresource;
}

function ownsAnnotation(entry: V1ManagedFieldsEntry, key: string): boolean {
  const fields = entry.fieldsV1 as Record<string, Record<string, Record<string, unknown>>> | undefined;
  return fields?.["f:metadata"]?.["f:annotations"]?.[`f:${key}`] !== undefined;
}
