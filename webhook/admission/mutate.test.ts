import fastJsonPatch from "fast-json-patch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { place } from "../../core/placement.ts";
import { createMetrics } from "../metrics.ts";
import {
  fixture,
  ORCHESTRATOR,
  placement,
  postJson,
  serveHttp,
  testApp,
  type Json,
} from "../../test/support/admissionReviews.ts";

const { applyPatch } = fastJsonPatch;

const metrics = createMetrics();
let server: Awaited<ReturnType<typeof serveHttp>>;
beforeAll(async () => (server = await serveHttp(testApp(metrics))));
afterAll(() => server.close());

async function mutateReview(review: Json) {
  const res = await postJson(`${server.url}/mutate`, review);
  expect(res.status).toBe(200);
  const response = res.json.response;
  expect(response.uid).toBe(review.request.uid);
  expect(res.json.apiVersion).toBe(review.apiVersion);
  expect(res.json.kind).toBe("AdmissionReview");
  const ops =
    response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, "base64").toString());
  const patched = applyPatch(structuredClone(review.request.object), ops, true, false).newDocument;
  return { response, ops, patched };
}

/** The object an UPDATE stores next: the patched object becomes the old one. */
function followUp(review: Json, patched: Json, edit: (obj: Json) => void, username = "kubernetes-admin") {
  const next = structuredClone(review);
  next.request.operation = "UPDATE";
  next.request.uid = crypto.randomUUID();
  next.request.oldObject = structuredClone(patched);
  next.request.object = structuredClone(patched);
  next.request.userInfo.username = username;
  edit(next.request.object);
  return next;
}

const create = () => fixture("deployment-create-fargate");
const update = () => fixture("deployment-update-to-fargate");

describe("mutate", () => {
  it.each([
    ["CREATE opted in with compute=fargate", create, "kubernetes-admin"],
    ["UPDATE setting compute=fargate", update, "kubernetes-admin"],
  ])("%s places the template on Fargate and records the change", async (_name, review, user) => {
    const r = review();
    const { response, patched } = await mutateReview(r);
    expect(response).toMatchObject({ allowed: true, patchType: "JSONPatch" });
    const placed = place(r.request.object, "fargate", placement);
    expect(patched.spec).toEqual(placed.spec);
    expect(patched.spec.template.spec.affinity).toEqual({
      podAntiAffinity: r.request.object.spec.template.spec.affinity.podAntiAffinity,
    });
    expect(patched.metadata.labels[COMPUTE_LABEL]).toBe("fargate");
    expect(patched.metadata.managedFields).toEqual(r.request.object.metadata.managedFields);
    expect(patched.status).toEqual(r.request.object.status);
    expect(patched.metadata.annotations).toMatchObject({
      [Annotation.changedAt]: "2025-11-25T10:30:00Z",
      [Annotation.changedBy]: user,
      [Annotation.reason]: "manual",
      [Annotation.spotPlacement]: placed.metadata!.annotations![Annotation.spotPlacement],
    });
  });

  it.each<[string, () => Json]>([
    ["not opted in", () => fixture("deployment-update-not-opted-in")],
    ["DELETE", () => fixture("deployment-delete")],
    [
      "CONNECT",
      () => ({
        ...fixture("deployment-delete"),
        request: { ...fixture("deployment-delete").request, operation: "CONNECT" },
      }),
    ],
    [
      "an invalid compute value (left to validate)",
      () => withAnnotation(create(), Annotation.compute, "gpu"),
    ],
    ["enabled=false", () => withAnnotation(create(), Annotation.enabled, "false")],
    ["another kind", () => withKind(create(), { group: "apps", version: "v1", kind: "StatefulSet" })],
    [
      "another group",
      () => withKind(create(), { group: "extensions", version: "v1beta1", kind: "Deployment" }),
    ],
    [
      "the scale subresource",
      () => ({ ...create(), request: { ...create().request, subResource: "scale" } }),
    ],
  ])("%s: allowed without a patch", async (_name, review) => {
    const { response } = await mutateReview(review());
    expect(response).toEqual({ uid: expect.any(String), allowed: true, status: { code: 200 } });
  });

  it("opting in with compute absent only labels the Deployment (no rollout)", async () => {
    const r = create();
    delete r.request.object.metadata.annotations[Annotation.compute];
    const { ops, patched } = await mutateReview(r);
    expect(ops).toEqual([
      { op: "add", path: "/metadata/labels/spot-orchestrator.io~1compute", value: "spot" },
    ]);
    expect(patched.spec).toEqual(r.request.object.spec);
  });

  it("a second pass over its own output emits no patch", async () => {
    const r = create();
    const { patched } = await mutateReview(r);
    const { response } = await mutateReview(followUp(r, patched, () => {}));
    expect(response.patch).toBeUndefined();
    expect(response.patchType).toBeUndefined();
  });

  it("spot → fargate → spot restores the template exactly", async () => {
    const r = create();
    const { patched: onFargate } = await mutateReview(r);
    const back = followUp(r, onFargate, (obj) => (obj.metadata.annotations[Annotation.compute] = "spot"));
    const { patched: onSpot } = await mutateReview(back);
    expect(onSpot.spec).toEqual(r.request.object.spec);
    expect(onSpot.metadata.annotations[Annotation.spotPlacement]).toBeUndefined();
    expect(onSpot.metadata.labels[COMPUTE_LABEL]).toBe("spot");
  });

  it("a CREATE with compute=on-demand records the change as a person's", async () => {
    const { patched } = await mutateReview(withAnnotation(create(), Annotation.compute, "on-demand"));
    expect(patched.metadata.annotations).toMatchObject({
      [Annotation.reason]: "manual",
      [Annotation.changedAt]: "2025-11-25T10:30:00Z",
    });
    expect(patched.metadata.labels[COMPUTE_LABEL]).toBe("on-demand");
  });

  it("compute=on-demand places the template on on-demand nodes; back to spot restores it exactly", async () => {
    const r = withAnnotation(update(), Annotation.compute, "on-demand");
    const { patched: onDemand } = await mutateReview(r);
    expect(summary(onDemand)).toEqual({
      spec: place(r.request.object, "on-demand", placement).spec,
      label: "on-demand",
      reason: "manual",
    });
    expect(onDemand.spec.template.spec.nodeSelector).toEqual(placement.onDemandNodeSelector);
    const back = followUp(r, onDemand, (obj) => (obj.metadata.annotations[Annotation.compute] = "spot"));
    const { patched: onSpot } = await mutateReview(back);
    expect(onSpot.spec).toEqual(r.request.object.spec);
    expect(onSpot.metadata.annotations[Annotation.spotPlacement]).toBeUndefined();

    function summary(d: Json) {
      return {
        spec: d.spec,
        label: d.metadata.labels[COMPUTE_LABEL],
        reason: d.metadata.annotations[Annotation.reason],
      };
    }
  });

  it("the orchestrator keeps the reason it set; changed-by names it", async () => {
    const r = update();
    r.request.userInfo.username = ORCHESTRATOR;
    r.request.object.metadata.annotations[Annotation.reason] = "spot-interruption";
    const { patched } = await mutateReview(r);
    expect(patched.metadata.annotations[Annotation.reason]).toBe("spot-interruption");
    expect(patched.metadata.annotations[Annotation.changedBy]).toBe(ORCHESTRATOR);
  });

  it("an update that does not change compute keeps changed-at, changed-by and reason", async () => {
    const r = create();
    const { patched } = await mutateReview(r);
    const scaled = followUp(r, patched, (obj) => (obj.spec.replicas = 6), "someone-else");
    const { ops } = await mutateReview(scaled);
    expect(ops).toEqual([]);
  });

  it("dryRun does not change the answer", async () => {
    const wet = await mutateReview(create());
    const dry = create();
    dry.request.dryRun = true;
    expect((await mutateReview(dry)).ops).toEqual(wet.ops);
  });

  it("answers an admission.k8s.io/v1beta1 review in kind", async () => {
    const r = create();
    r.apiVersion = "admission.k8s.io/v1beta1";
    const { response } = await mutateReview(r);
    expect(response.patchType).toBe("JSONPatch");
  });

  it("warns, but places, a Fargate Deployment that became incompatible", async () => {
    const r = update();
    r.request.oldObject.metadata.annotations[Annotation.compute] = "fargate";
    r.request.object.spec.template.spec.hostNetwork = true;
    const { response } = await mutateReview(r);
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      "this Deployment cannot run on Fargate: hostNetwork is not supported on Fargate",
    ]);
  });

  it("warns when the stash cannot be read on the way back to spot", async () => {
    const r = update();
    r.request.object.metadata.annotations[Annotation.compute] = "spot";
    r.request.object.metadata.annotations[Annotation.spotPlacement] = "{not json";
    const { response } = await mutateReview(r);
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toMatch(/spot-placement is not a JSON object/);
  });
});

function withAnnotation(review: Json, key: string, value: string): Json {
  review.request.object.metadata.annotations[key] = value;
  return review;
}

function withKind(review: Json, kind: Json): Json {
  review.request.kind = kind;
  review.request.requestKind = kind;
  return review;
}

// Captured from a real apiserver while the Deployment was held on Fargate (compute=fargate,
// reason=spot-interruption): a Flux-style server-side apply, a kubectl client-side apply and a kubectl diff
// of a manifest that says compute: spot, one that dropped compute, and a person's kubectl annotate.
describe("mutate: an apply never undoes the orchestrator's move (rule apply-never-undoes-a-move)", () => {
  const held = (name: string, reason = "spot-interruption") => {
    const r = fixture(name);
    r.request.oldObject.metadata.annotations[Annotation.reason] = reason;
    return r;
  };
  /** spot_orchestrator_webhook_apply_guard_total, by action. */
  const guardCounts = async () =>
    Object.fromEntries((await metrics.applyGuard.get()).values.map((v) => [v.labels.action, v.value]));
  const increments = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(Object.entries(after).map(([action, n]) => [action, n - (before[action] ?? 0)]));

  it.each([
    [
      "a server-side apply of compute: spot",
      "deployment-apply-server-side-compute-spot",
      'a server-side apply by "kustomize-controller"',
    ],
    [
      "a client-side apply of compute: spot",
      "deployment-apply-client-side-compute-spot",
      'a client-side apply by "kubectl-client-side-apply"',
    ],
    [
      "kubectl diff (a client-side dry run) of compute: spot on a Deployment kubectl never applied",
      "deployment-diff-client-side-compute-spot",
      'a client-side apply by "kubectl-client-side-apply"',
    ],
    [
      "a client-side apply that drops compute",
      "deployment-apply-client-side-compute-removed",
      'a client-side apply by "kubectl-client-side-apply"',
    ],
  ])("%s keeps it on Fargate, with a warning naming the rule", async (_name, name, applier) => {
    const r = held(name);
    const before = await guardCounts();
    const { response, patched } = await mutateReview(r);
    expect(increments(before, await guardCounts())).toEqual({ kept: 1, warned: 0 });
    expect(response.allowed).toBe(true);
    expect(patched.metadata.annotations[Annotation.compute]).toBe("fargate");
    expect(patched.metadata.annotations[Annotation.reason]).toBe("spot-interruption");
    expect(patched.metadata.annotations[Annotation.changedBy]).toBeUndefined();
    expect(patched.spec).toEqual(place(r.request.object, "fargate", placement).spec);
    expect(response.warnings).toEqual([
      `spot-orchestrator.io/compute stays "fargate" (rule apply-never-undoes-a-move): the orchestrator moved ` +
        `this Deployment to Fargate (reason spot-interruption) and ${applier} does not move it back; recovery ` +
        `returns it to spot, or move it yourself with kubectl annotate --overwrite spot-orchestrator.io/compute=spot`,
    ]);
  });

  it("keeps a Deployment the orchestrator moved to on-demand nodes there too", async () => {
    const r = held("deployment-apply-server-side-compute-spot");
    r.request.oldObject.metadata.annotations[Annotation.compute] = "on-demand";
    const { response, patched } = await mutateReview(r);
    expect(patched.metadata.annotations[Annotation.compute]).toBe("on-demand");
    expect(patched.spec).toEqual(place(r.request.object, "on-demand", placement).spec);
    expect(response.warnings?.[0]).toMatch(
      /^spot-orchestrator.io\/compute stays "on-demand" \(rule apply-never-undoes-a-move\): the orchestrator moved this Deployment to on-demand nodes \(reason spot-interruption\)/,
    );
  });

  it("holds after a rollback too", async () => {
    const { patched } = await mutateReview(held("deployment-apply-server-side-compute-spot", "rollback"));
    expect(patched.metadata.annotations[Annotation.compute]).toBe("fargate");
  });

  it("lets a person's kubectl annotate move it back to spot, recorded as manual", async () => {
    const r = held("deployment-annotate-compute-spot");
    const before = await guardCounts();
    const { response, patched } = await mutateReview(r);
    expect(increments(before, await guardCounts())).toEqual({ kept: 0, warned: 0 });
    expect(response.warnings).toBeUndefined();
    expect(patched.metadata.annotations).toMatchObject({
      [Annotation.compute]: "spot",
      [Annotation.reason]: "manual",
      [Annotation.changedBy]: "jane@example.com",
    });
  });

  it("lets an apply move it back when a person put it on Fargate", async () => {
    const r = held("deployment-apply-server-side-compute-spot", "manual");
    const { patched } = await mutateReview(r);
    expect(patched.metadata.annotations[Annotation.compute]).toBe("spot");
    expect(patched.metadata.annotations[Annotation.reason]).toBe("manual");
  });

  it("lets the orchestrator's own recovery move it back", async () => {
    const r = held("deployment-apply-server-side-compute-spot");
    r.request.userInfo.username = ORCHESTRATOR;
    r.request.object.metadata.annotations[Annotation.reason] = "recovery";
    const { response, patched } = await mutateReview(r);
    expect(response.warnings).toBeUndefined();
    expect(patched.metadata.annotations[Annotation.compute]).toBe("spot");
    expect(patched.metadata.annotations[Annotation.reason]).toBe("recovery");
  });

  it("warns an apply that declares compute: spot on a Deployment on spot, and changes nothing for it", async () => {
    const r = fixture("deployment-create-server-side-compute-spot");
    const before = await guardCounts();
    const { response, ops } = await mutateReview(r);
    expect(increments(before, await guardCounts())).toEqual({ kept: 0, warned: 1 });
    expect(ops).toEqual([{ op: "add", path: "/metadata/labels", value: { [COMPUTE_LABEL]: "spot" } }]);
    expect(response.warnings).toEqual([
      'spot-orchestrator.io/compute is set to "spot" by a server-side apply by "kustomize-controller" (rule ' +
        "apply-never-undoes-a-move): leave it out of your manifests (absent means spot); an apply never moves " +
        "a Deployment off Fargate while the orchestrator keeps it there",
    ]);
  });

  it("says nothing to an apply that leaves compute out", async () => {
    const r = held("deployment-apply-server-side-unchanged");
    const { response, patched } = await mutateReview(r);
    expect(response.warnings).toBeUndefined();
    expect(patched.metadata.annotations[Annotation.compute]).toBe("fargate");
  });
});
