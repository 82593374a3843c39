// The validating handler: keeps the annotation contract's values valid and refuses to move a Deployment
// to Fargate that cannot run there. Every denial says what is wrong and what is allowed.
import {
  Annotation,
  COMPUTE_TYPES,
  ENABLED_VALUES,
  REASONS,
  isCompute,
  countsAsOptedIn,
  isPriority,
  isReason,
  type OptInScope,
} from "../../core/contract.ts";
import { fargateIncompatibilities } from "../../core/placement.ts";
import {
  annotationOf,
  becomesEnabled,
  computeChanges,
  deploymentWrite,
  isOrchestrator,
  type DeploymentWrite,
} from "./deployment.ts";
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from "./review.ts";

type DenialCause =
  "invalid-enabled" | "invalid-compute" | "invalid-priority" | "invalid-reason" | "fargate-incompatible";

interface Problem {
  cause: DenialCause;
  message: string;
}

export type ValidateResult = Omit<AdmissionResponse, "uid"> & { causes?: DenialCause[] };

export function validate(
  request: AdmissionRequest,
  options: { orchestratorUsername: string; optIn: OptInScope },
): ValidateResult {
  const write = deploymentWrite(request);
  if (write === undefined) return allowed();
  const optedIn = countsAsOptedIn(write.object, options.optIn, write.namespace);
  const problems: Problem[] = [];
  const warnings: string[] = [];

  const enabled = annotationOf(write.object, Annotation.enabled);
  if (enabled !== undefined && !(ENABLED_VALUES as readonly string[]).includes(enabled)) {
    problems.push({
      cause: "invalid-enabled",
      message: notAllowed(Annotation.enabled, enabled, ENABLED_VALUES),
    });
  }
  // A bad compute is denied whether or not the Deployment is opted in (yet), so opting in later never
  // meets a value set earlier; a value stored before it left the contract stays editable.
  const compute = annotationOf(write.object, Annotation.compute);
  const changed = compute !== annotationOf(write.oldObject, Annotation.compute);
  if (compute !== undefined && !isCompute(compute) && (changed || optedIn)) {
    problems.push({
      cause: "invalid-compute",
      message: notAllowed(Annotation.compute, compute, COMPUTE_TYPES),
    });
  }
  const priority = annotationOf(write.object, Annotation.priority);
  if (
    priority !== undefined &&
    !isPriority(priority) &&
    priority !== annotationOf(write.oldObject, Annotation.priority)
  ) {
    problems.push({
      cause: "invalid-priority",
      message:
        `${Annotation.priority}: ${JSON.stringify(priority)} is not allowed; allowed values: a whole number ` +
        `from -2147483647 to 2147483647 (higher moves to Fargate first when the Fargate budget is short)`,
    });
  }
  if (optedIn) checkOptedIn(write, options.orchestratorUsername, problems, warnings);

  if (problems.length === 0) return allowed(undefined, warnings);
  const invalid = problems.some((p) => p.cause !== "fargate-incompatible");
  const message = problems.map((p) => p.message).join("; ");
  return {
    ...denied(message, invalid ? "Invalid" : "Forbidden", warnings),
    causes: problems.map((p) => p.cause),
  };
}

function checkOptedIn(
  write: DeploymentWrite,
  orchestratorUsername: string,
  problems: Problem[],
  warnings: string[],
): void {
  const compute = annotationOf(write.object, Annotation.compute);
  // Only a new value is checked, so an object stored before a value left the contract can still be edited.
  const reason = annotationOf(write.object, Annotation.reason);
  if (
    reason !== undefined &&
    !isReason(reason) &&
    reason !== annotationOf(write.oldObject, Annotation.reason) &&
    !isOrchestrator(write, orchestratorUsername)
  ) {
    problems.push({ cause: "invalid-reason", message: notAllowed(Annotation.reason, reason, REASONS) });
  }

  const incompatible = fargateIncompatibilities(write.object.spec?.template.spec);
  if (incompatible.length === 0) return;
  // Opting in while already asking for fargate places the template on Fargate just like a change would.
  const movesToFargate = compute === "fargate" && (computeChanges(write, "fargate") || becomesEnabled(write));
  if (movesToFargate) {
    problems.push({
      cause: "fargate-incompatible",
      message:
        `${Annotation.compute}: "fargate" is not allowed for this Deployment because it cannot run on ` +
        `Fargate (${incompatible.join("; ")}); allowed values: spot, on-demand`,
    });
  } else if (becomesEnabled(write)) {
    warnings.push(
      `this Deployment cannot run on Fargate (${incompatible.join("; ")}); when its node is interrupted ` +
        `it moves to on-demand nodes if the orchestrator's fallback is on (fargate.fallback=on-demand), ` +
        `and otherwise stays where it is`,
    );
  }
}

function notAllowed(key: string, value: string, allowedValues: readonly string[]): string {
  return `${key}: ${JSON.stringify(value)} is not allowed; allowed values: ${allowedValues.join(", ")}`;
}
