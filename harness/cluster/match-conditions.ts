// The webhooks' matchConditions as the chart renders them (the chart test checks they are the same), for
// the tests that register the webhook by URL.
import type { V1MatchCondition } from "@kubernetes/client-node";
import { PREFIX } from "../../core/contract.ts";

const annotated = (obj: string) =>
  `${obj} != null && has(${obj}.metadata.annotations) && ${obj}.metadata.annotations.exists(k, k.startsWith('${PREFIX}'))`;

/** Deployments carrying any orchestrator annotation before or after the change (and `deploymentName`, if set). */
export function orchestratorMatchConditions(deploymentName?: string): V1MatchCondition[] {
  const conditions = [annotated("object"), annotated("oldObject")];
  if (deploymentName) {
    conditions.push(`object != null && object.metadata.name == '${deploymentName}'`);
    conditions.push(`oldObject != null && oldObject.metadata.name == '${deploymentName}'`);
  }
  return [{ name: "orchestrator-annotations", expression: `(${conditions.join(") || (")})` }];
}
