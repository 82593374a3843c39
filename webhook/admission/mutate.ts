// The mutating handler: places an opted-in Deployment's pod template for its `compute`, labels it, and
// records who changed `compute` and when. The patch is the diff of a mutated copy, never written by hand.
import type { V1Deployment } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import {
  Annotation,
  COMPUTE_LABEL,
  countsAsOptedIn,
  requestedCompute,
  type Compute,
  type OptInScope,
} from "../../core/contract.ts";
import { fargateIncompatibilities, place, readStash, type PlacementConfig } from "../../core/placement.ts";
import { rfc3339 } from "../../core/time.ts";
import { guardCompute, type ApplyGuardAction } from "./applyGuard.ts";
import { guardStrategy } from "./strategyGuard.ts";
import {
  annotationOf,
  computeChanges,
  deploymentWrite,
  isOrchestrator,
  type DeploymentWrite,
} from "./deployment.ts";
import { allowed, patched, type AdmissionRequest, type AdmissionResponse } from "./review.ts";

// fast-json-patch is CommonJS: Node exposes it as a default export only (vitest would hide that).
const { compare } = fastJsonPatch;

export interface MutateOptions {
  placement: PlacementConfig;
  orchestratorUsername: string;
  /** Who counts as opted in besides the annotation (`kubernetes.deployment_name`). */
  optIn: OptInScope;
  now?: () => Date;
}

export type MutateResult = Omit<AdmissionResponse, "uid"> & {
  compute?: Compute;
  /** Set when the rule apply-never-undoes-a-move acted on this request. */
  applyGuard?: ApplyGuardAction;
};

export function mutate(request: AdmissionRequest, options: MutateOptions): MutateResult {
  const write = deploymentWrite(request);
  if (write === undefined || !countsAsOptedIn(write.object, options.optIn, write.namespace)) return allowed();
  const requested = requestedCompute(write.object);
  if (requested === undefined) return allowed(); // the validating webhook denies it with the reason
  const guarded = guardCompute(request, write, requested, options.orchestratorUsername);
  const compute = guarded.compute;

  const original = withoutBookkeeping(write.object);
  const mutated = place(original, compute, options.placement);
  const metadata = (mutated.metadata ??= {});
  (metadata.labels ??= {})[COMPUTE_LABEL] = compute;
  if (compute !== requested) (metadata.annotations ??= {})[Annotation.compute] = compute;
  const changes = computeChanges(write, compute);
  const orchestrator = isOrchestrator(write, options.orchestratorUsername);
  if (changes) {
    const annotations = (metadata.annotations ??= {});
    annotations[Annotation.changedAt] = rfc3339(options.now?.() ?? new Date());
    annotations[Annotation.changedBy] = write.username;
    if (!orchestrator) annotations[Annotation.reason] = "manual";
  }
  const strategyWarning = orchestrator ? undefined : guardStrategy(write, mutated, changes);
  const ops = compare(original, mutated);
  const found = warnings(write, compute);
  if (strategyWarning !== undefined) found.unshift(strategyWarning);
  if (guarded.warning !== undefined) found.unshift(guarded.warning);
  return { ...patched(ops, found), compute, applyGuard: guarded.action };
}

/**
 * The Deployment without managedFields and status, which the webhook never changes: a shallow copy, so
 * that placing and diffing skip the largest parts of a stored object. Patch paths are unaffected.
 */
function withoutBookkeeping(deployment: V1Deployment): V1Deployment {
  const { status: _status, ...rest } = deployment;
  if (rest.metadata?.managedFields === undefined) return rest;
  const { managedFields: _managedFields, ...metadata } = rest.metadata;
  return { ...rest, metadata };
}

/** Problems that do not stop admission but that the requester should see. */
function warnings(write: DeploymentWrite, compute: Compute): string[] {
  const found: string[] = [];
  if (compute === "fargate") {
    const reasons = fargateIncompatibilities(write.object.spec?.template.spec);
    if (reasons.length > 0) found.push(`this Deployment cannot run on Fargate: ${reasons.join("; ")}`);
  }
  const stash = annotationOf(write.object, Annotation.spotPlacement);
  if (compute === "spot" && stash !== undefined && readStash(stash) === undefined) {
    found.push(
      `${Annotation.spotPlacement} is not a JSON object; the spot placement could not be restored from it`,
    );
  }
  return found;
}
