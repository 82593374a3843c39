import { describe, expect, it } from "vitest";
import { fixture, type Json } from "../../test/support/admissionReviews.ts";
import { LAST_APPLIED } from "../../core/applyRule.ts";
import { applierOf } from "./applyGuard.ts";
import { deploymentWrite } from "./deployment.ts";

const applier = (review: Json) => applierOf(review.request, deploymentWrite(review.request)!);

describe("applierOf tells applies from imperative writes", () => {
  it.each([
    [
      "deployment-apply-server-side-compute-spot",
      { how: "server-side apply", manager: "kustomize-controller" },
    ],
    [
      "deployment-create-server-side-compute-spot",
      { how: "server-side apply", manager: "kustomize-controller" },
    ],
    [
      "deployment-apply-client-side-compute-spot",
      { how: "client-side apply", manager: "kubectl-client-side-apply" },
    ],
    [
      "deployment-apply-client-side-compute-removed",
      { how: "client-side apply", manager: "kubectl-client-side-apply" },
    ],
    [
      "deployment-diff-client-side-compute-spot",
      { how: "client-side apply", manager: "kubectl-client-side-apply" },
    ],
    ["deployment-annotate-compute-spot", undefined],
    ["deployment-update-to-fargate", undefined],
  ])("%s", (name, expected) => {
    expect(applier(fixture(name))).toEqual(expected);
  });

  it("a client-side apply without a field manager in the request: the one that rewrote the configuration", () => {
    const review = fixture("deployment-apply-client-side-compute-spot");
    delete review.request.options.fieldManager;
    expect(applier(review)).toBeUndefined(); // the stored configuration is unchanged: not this request's
    review.request.object.metadata.annotations[LAST_APPLIED] += " ";
    expect(applier(review)).toEqual({ how: "client-side apply", manager: "kubectl-client-side-apply" });
  });

  it("a write that carries no managed fields or options is not an apply", () => {
    const review = fixture("deployment-apply-server-side-compute-spot");
    delete review.request.options;
    delete review.request.object.metadata.managedFields;
    expect(applier(review)).toBeUndefined();
  });
});
