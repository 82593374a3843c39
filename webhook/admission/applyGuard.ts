// GitOps safety for `compute`: an apply (Flux, Argo CD, kubectl apply) re-sends the manifest from git, and a
// manifest that says `compute: spot` would otherwise move a Deployment back onto a dying spot node at every
// sync, recorded as a person's choice. The rule: an apply never moves a Deployment off Fargate (or the
// on-demand nodes it fell back to) while the orchestrator keeps it there; a person still can, imperatively (`kubectl annotate --overwrite`).
import type { V1Deployment, V1ManagedFieldsEntry } from "@kubernetes/client-node";
import { Annotation, isOffSpot, requestedCompute, type Compute, type OffSpot } from "../../core/contract.ts";
import { annotationOf, isOrchestrator, type DeploymentWrite } from "./deployment.ts";
import type { AdmissionRequest } from "./review.ts";

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

export interface GuardedCompute {
  compute: Compute;
  warning?: string;
}

/**
 * The compute to place for: the requested one, except that an apply cannot move a Deployment the
 * orchestrator keeps on Fargate or on-demand back to spot. Also warns an apply that declares `compute: spot`.
 * Cheap for the common case: it reads annotations first and managed fields only for `spot` writes.
 */
export function guardCompute(
  request: AdmissionRequest,
  write: DeploymentWrite,
  requested: Compute,
  orchestratorUsername: string,
): GuardedCompute {
  if (requested !== "spot" || isOrchestrator(write, orchestratorUsername)) return { compute: requested };
  const hold = orchestratorHold(write.oldObject);
  if (hold !== undefined) {
    const applier = applierOf(request, write);
    if (applier === undefined) return { compute: requested };
    const where = hold.compute === "fargate" ? "Fargate" : "on-demand nodes";
    return {
      compute: hold.compute,
      warning:
        `${Annotation.compute} stays "${hold.compute}" (rule ${APPLY_RULE}): the orchestrator moved this ` +
        `Deployment to ${where} (reason ${hold.reason}) and a ${describe(applier)} does not move it back; ` +
        `recovery returns it to spot, or move it yourself with kubectl annotate --overwrite ` +
        `${Annotation.compute}=spot`,
    };
  }
  if (annotationOf(write.object, Annotation.compute) !== "spot") return { compute: requested };
  const applier = applierOf(request, write);
  if (applier === undefined || !declaresCompute(applier, write.object)) return { compute: requested };
  return {
    compute: requested,
    warning:
      `${Annotation.compute} is set to "spot" by a ${describe(applier)} (rule ${APPLY_RULE}): leave it out ` +
      `of your manifests (absent means spot); an apply never moves a Deployment off Fargate while the ` +
      `orchestrator keeps it there`,
  };
}

/** Where and why the orchestrator keeps the stored Deployment off spot, or undefined when it does not. */
function orchestratorHold(
  stored: V1Deployment | undefined,
): { compute: OffSpot; reason: string } | undefined {
  const compute = stored === undefined ? undefined : requestedCompute(stored);
  if (!isOffSpot(compute)) return undefined;
  const reason = annotationOf(stored, Annotation.reason);
  return reason === undefined || reason === "manual" ? undefined : { compute, reason };
}

/**
 * Who applied this write, when it is an apply: a server-side apply leaves an `Apply` managed-fields entry
 * for the request's field manager; a client-side apply is kubectl's, or rewrites or owns the last-applied
 * configuration. Imperative writes (annotate, patch, scale) are neither.
 */
export function applierOf(request: AdmissionRequest, write: DeploymentWrite): Applier | undefined {
  const manager = fieldManagerOf(request.options);
  const entries = managedFieldsOf(write.object);
  if (manager !== undefined && entries.some((e) => isApplyEntry(e, manager))) {
    return { how: "server-side apply", manager };
  }
  if (manager === KUBECTL_CLIENT_SIDE_APPLY) return { how: "client-side apply", manager };
  const lastApplied = annotationOf(write.object, LAST_APPLIED);
  if (lastApplied === undefined) return undefined;
  const owner = entries.find((e) => ownsAnnotation(e, LAST_APPLIED))?.manager;
  const rewritten = lastApplied !== annotationOf(write.oldObject, LAST_APPLIED);
  if ((manager !== undefined && owner === manager) || (manager === undefined && rewritten)) {
    return { how: "client-side apply", manager: manager ?? owner ?? "" };
  }
  return undefined;
}

/** True when the applier's own configuration sets `compute` (not only the stored object). */
function declaresCompute(applier: Applier, object: V1Deployment): boolean {
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

function describe(applier: Applier): string {
  return applier.manager === "" ? applier.how : `${applier.how} by "${applier.manager}"`;
}

function fieldManagerOf(options: unknown): string | undefined {
  if (options === null || typeof options !== "object") return undefined;
  const manager = (options as { fieldManager?: unknown }).fieldManager;
  return typeof manager === "string" && manager !== "" ? manager : undefined;
}

function managedFieldsOf(object: V1Deployment): V1ManagedFieldsEntry[] {
  const entries: unknown = object.metadata?.managedFields;
  return Array.isArray(entries) ? (entries as V1ManagedFieldsEntry[]) : [];
}

function isApplyEntry(entry: V1ManagedFieldsEntry, manager: string): boolean {
  return entry.manager === manager && entry.operation === "Apply" && !entry.subresource;
}

function ownsAnnotation(entry: V1ManagedFieldsEntry, key: string): boolean {
  const fields = entry.fieldsV1 as Record<string, Record<string, Record<string, unknown>>> | undefined;
  return fields?.["f:metadata"]?.["f:annotations"]?.[`f:${key}`] !== undefined;
}
