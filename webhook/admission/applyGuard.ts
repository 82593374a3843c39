// GitOps safety for `compute` at admission: an apply (Flux, Argo CD, kubectl apply) re-sends the manifest from
// git, and a manifest that says `compute: spot` would otherwise move a Deployment back onto a dying spot node
// at every sync, recorded as a person's choice. The rule itself (what an apply is, when the orchestrator keeps
// a Deployment off spot) is core/applyRule.ts; here it is applied to the write being admitted.
import {
  APPLY_RULE,
  applierOfWrite,
  declaresCompute,
  describeApplier,
  orchestratorHold,
  type Applier,
} from "../../core/applyRule.ts";
import { Annotation, type Compute } from "../../core/contract.ts";
import { annotationOf, isOrchestrator, type DeploymentWrite } from "./deployment.ts";
import type { AdmissionRequest } from "./review.ts";

/**
 * What the rule did: kept a Deployment where the orchestrator moved it (Fargate, on-demand) against an apply,
 * or warned an apply that declares spot.
 */
export const APPLY_GUARD_ACTIONS = ["kept", "warned"] as const;
export type ApplyGuardAction = (typeof APPLY_GUARD_ACTIONS)[number];

export interface GuardedCompute {
  compute: Compute;
  warning?: string;
  action?: ApplyGuardAction;
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
      action: "kept",
      warning:
        `${Annotation.compute} stays "${hold.compute}" (rule ${APPLY_RULE}): the orchestrator moved this ` +
        `Deployment to ${where} (reason ${hold.reason}) and a ${describeApplier(applier)} does not move it back; ` +
        `recovery returns it to spot, or move it yourself with kubectl annotate --overwrite ` +
        `${Annotation.compute}=spot`,
    };
  }
  if (annotationOf(write.object, Annotation.compute) !== "spot") return { compute: requested };
  const applier = applierOf(request, write);
  if (applier === undefined || !declaresCompute(applier, write.object)) return { compute: requested };
  return {
    compute: requested,
    action: "warned",
    warning:
      `${Annotation.compute} is set to "spot" by a ${describeApplier(applier)} (rule ${APPLY_RULE}): leave it out ` +
      `of your manifests (absent means spot); an apply never moves a Deployment off Fargate while the ` +
      `orchestrator keeps it there`,
  };
}

/** Who applied this write, when it is an apply (core/applyRule.ts), with the request's field manager. */
export function applierOf(request: AdmissionRequest, write: DeploymentWrite): Applier | undefined {
  return applierOfWrite(fieldManagerOf(request.options), write.object, write.oldObject);
}

function fieldManagerOf(options: unknown): string | undefined {
  if (options === null || typeof options !== "object") return undefined;
  const manager = (options as { fieldManager?: unknown }).fieldManager;
  return typeof manager === "string" && manager !== "" ? manager : undefined;
}
