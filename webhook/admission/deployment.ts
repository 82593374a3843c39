// What both admission handlers need to know about a request: is it an apps/v1 Deployment write we handle,
// who sent it, and how its `compute` changes.
import type { V1Deployment } from "@kubernetes/client-node";
import * as v from "valibot";
import { Annotation, requestedCompute, type Compute } from "../../core/contract.ts";
import { issueText, jsonMap, jsonObject } from "./jsonShape.ts";
import { BadReviewError, type AdmissionRequest } from "./review.ts";

// Only the parts placement reads or writes are checked; the apiserver always sends these well-formed,
// so a mismatch means the request did not come from one.
const stringMap = jsonMap(v.string());
const quantities = jsonMap(v.union([v.string(), v.number()]));
const container = jsonObject({
  name: v.string(),
  ports: v.optional(v.array(jsonObject({ hostPort: v.optional(v.number()) }))),
  resources: v.optional(jsonObject({ requests: v.optional(quantities), limits: v.optional(quantities) })),
  securityContext: v.nullish(jsonObject({})),
});
const podSpec = jsonObject({
  containers: v.array(container),
  initContainers: v.optional(v.array(container)),
  volumes: v.optional(v.array(jsonObject({ name: v.string() }))),
  nodeSelector: v.optional(stringMap),
  tolerations: v.optional(v.array(jsonObject({}))),
  affinity: v.optional(jsonObject({})),
  topologySpreadConstraints: v.optional(v.array(jsonObject({}))),
});
const deploymentShape = jsonObject({
  metadata: v.optional(jsonObject({ annotations: v.optional(stringMap), labels: v.optional(stringMap) })),
  spec: jsonObject({
    template: jsonObject({
      metadata: v.nullish(jsonObject({ labels: v.optional(stringMap) })),
      spec: podSpec,
    }),
  }),
});

function checkShape(obj: unknown, field: string): V1Deployment {
  const result = v.safeParse(deploymentShape, obj);
  if (!result.success) throw new BadReviewError(issueText(result.issues[0], field));
  return obj as V1Deployment;
}

export interface DeploymentWrite {
  operation: "CREATE" | "UPDATE";
  object: V1Deployment;
  /** The stored object on UPDATE; undefined on CREATE. */
  oldObject: V1Deployment | undefined;
  username: string;
  /** The request's namespace (a created object's metadata may leave it out). */
  namespace: string;
}

/** The Deployment being created or updated, or undefined for anything the webhook leaves alone. */
export function deploymentWrite(request: AdmissionRequest): DeploymentWrite | undefined {
  const { kind, operation, subResource, object } = request;
  if (kind.group !== "apps" || kind.kind !== "Deployment") return undefined;
  if (operation !== "CREATE" && operation !== "UPDATE") return undefined;
  if (subResource !== undefined && subResource !== "") return undefined;
  if (object === undefined || object === null) return undefined;
  const oldObject = operation === "UPDATE" ? (request.oldObject ?? undefined) : undefined;
  return {
    operation,
    object: checkShape(object, "request.object"),
    oldObject: oldObject === undefined ? undefined : checkShape(oldObject, "request.oldObject"),
    username: request.userInfo?.username ?? "",
    namespace: request.namespace ?? "",
  };
}

export function annotationOf(obj: V1Deployment | undefined, key: string): string | undefined {
  const annotations: unknown = obj?.metadata?.annotations;
  if (annotations === null || typeof annotations !== "object") return undefined;
  const value: unknown = (annotations as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
}

/**
 * The compute before this write: what the stored object asked for (absent = spot), or undefined on
 * CREATE. An invalid stored value reads as "unknown", which differs from every valid one.
 */
function previousCompute(write: DeploymentWrite): Compute | "unknown" | undefined {
  if (write.oldObject === undefined) return undefined;
  return requestedCompute(write.oldObject) ?? "unknown";
}

/** True when this write changes `compute`; a CREATE off spot counts as a change from spot. */
export function computeChanges(write: DeploymentWrite, compute: Compute): boolean {
  const before = previousCompute(write);
  return before === undefined ? compute !== "spot" : before !== compute;
}

export function isOrchestrator(write: DeploymentWrite, orchestratorUsername: string): boolean {
  return write.username !== "" && write.username === orchestratorUsername;
}

export function becomesEnabled(write: DeploymentWrite): boolean {
  return (
    annotationOf(write.object, Annotation.enabled) === "true" &&
    annotationOf(write.oldObject, Annotation.enabled) !== "true"
  );
}
