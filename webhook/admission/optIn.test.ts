// The Deployment `kubernetes.deployment_name` names counts as opted in at admission too (core/contract.ts
// `countsAsOptedIn`): placed, labelled and checked for Fargate as an annotated one is, in a watched namespace.
import { describe, expect, it } from "vitest";
import { Annotation, type OptInScope } from "../../core/contract.ts";
import { fixture, ORCHESTRATOR, placement, type Json } from "../../test/support/admissionReviews.ts";
import { mutate } from "./mutate.ts";
import { validate } from "./validate.ts";

/** `checkout` in `shop`, asking for Fargate, without the `enabled` annotation. */
function unannotated(): Json {
  const review = fixture("deployment-create-fargate");
  delete review.request.object.metadata.annotations[Annotation.enabled];
  delete review.request.object.metadata.namespace; // as kubectl sends a create: the request names it
  return review.request;
}

const scope = (deploymentName: string, namespaces: string[] = []): OptInScope => ({
  namespaces,
  deploymentName,
});
const options = (optIn: OptInScope) => ({ placement, orchestratorUsername: ORCHESTRATOR, optIn });

describe("kubernetes.deployment_name at admission", () => {
  it("places the named Deployment on Fargate, without the annotation, in any or a watched namespace", () => {
    for (const optIn of [scope("checkout"), scope("checkout", ["shop"])]) {
      const response = mutate(unannotated(), options(optIn));
      expect(response.compute).toBe("fargate");
      expect(response.patch).toBeDefined();
    }
  });

  it("leaves other Deployments, and the named one outside the watched namespaces, alone", () => {
    for (const optIn of [scope(""), scope("web"), scope("checkout", ["payments"])]) {
      const response = mutate(unannotated(), options(optIn));
      expect(response.patch).toBeUndefined();
      expect(response.compute).toBeUndefined();
    }
  });

  it("denies the named Deployment's move to Fargate when its pods cannot run there, as an annotated one's", () => {
    const request = unannotated();
    request.object.spec.template.spec.hostNetwork = true;
    const named = validate(request, options(scope("checkout")));
    expect(named.allowed).toBe(false);
    expect(named.causes).toEqual(["fargate-incompatible"]);
    expect(validate(request, options(scope(""))).allowed).toBe(true);
  });
});
