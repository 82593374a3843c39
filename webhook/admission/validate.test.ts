import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import {
  fixture,
  ORCHESTRATOR,
  postJson,
  serveHttp,
  testApp,
  type Json,
} from "../../test/support/admissionReviews.ts";

let server: Awaited<ReturnType<typeof serveHttp>>;
beforeAll(async () => (server = await serveHttp(testApp())));
afterAll(() => server.close());

async function validateReview(review: Json) {
  const res = await postJson(`${server.url}/validate`, review);
  expect(res.status).toBe(200);
  expect(res.json.response.uid).toBe(review.request.uid);
  expect(res.json.response.patch).toBeUndefined();
  return res.json.response;
}

type Edit = (r: Json) => void;
const annotate =
  (key: string, value: string | undefined, which: "object" | "oldObject" = "object"): Edit =>
  (r) => {
    if (value === undefined) delete r.request[which].metadata.annotations[key];
    else r.request[which].metadata.annotations[key] = value;
  };
const podSpec =
  (edit: (spec: Json) => void): Edit =>
  (r) =>
    edit(r.request.object.spec.template.spec);
const container = (edit: (c: Json) => void) => podSpec((spec) => edit(spec.containers[0]));
const asUser =
  (username: string): Edit =>
  (r) =>
    (r.request.userInfo.username = username);
const edits =
  (...all: Edit[]): Edit =>
  (r) =>
    all.forEach((edit) => edit(r));

const create = "deployment-create-fargate";
const update = "deployment-update-to-fargate";

describe("validate allows", () => {
  it.each<[string, string, Edit]>([
    ["a compatible Deployment moving to Fargate", create, () => {}],
    ["an UPDATE moving to Fargate", update, () => {}],
    ["a Deployment that is not opted in", "deployment-update-not-opted-in", () => {}],
    ["a DELETE", "deployment-delete", () => {}],
    [
      "a Deployment not opted in that keeps a compute value stored before it left the contract",
      "deployment-update-not-opted-in",
      edits(annotate(Annotation.compute, "gpu"), annotate(Annotation.compute, "gpu", "oldObject")),
    ],
    ["every contract reason", create, annotate(Annotation.reason, "rebalance-recommendation")],
    [
      "a non-contract reason written by the orchestrator",
      update,
      edits(asUser(ORCHESTRATOR), annotate(Annotation.reason, "experiment")),
    ],
    [
      "a non-contract reason already stored",
      update,
      edits(annotate(Annotation.reason, "legacy"), annotate(Annotation.reason, "legacy", "oldObject")),
    ],
    [
      "an incompatible Deployment that is already on Fargate (no move)",
      update,
      edits(
        annotate(Annotation.compute, "fargate", "oldObject"),
        podSpec((s) => (s.hostNetwork = true)),
      ),
    ],
    [
      "an incompatible Deployment moving to on-demand nodes",
      update,
      edits(
        annotate(Annotation.compute, "on-demand"),
        podSpec((s) => (s.hostNetwork = true)),
      ),
    ],
    ["a whole-number priority", create, annotate(Annotation.priority, "-20")],
    [
      "a bad priority already stored",
      update,
      edits(annotate(Annotation.priority, "high"), annotate(Annotation.priority, "high", "oldObject")),
    ],
    [
      "an incompatible Deployment staying on spot",
      update,
      edits(
        annotate(Annotation.compute, "spot"),
        podSpec((s) => (s.hostNetwork = true)),
      ),
    ],
  ])("%s", async (_name, name, edit) => {
    const review = fixture(name);
    edit(review);
    expect(await validateReview(review)).toEqual({
      uid: review.request.uid,
      allowed: true,
      status: { code: 200 },
    });
  });
});

describe("validate denies", () => {
  it.each<[string, string, Edit, number, string]>([
    [
      "an unknown compute",
      create,
      annotate(Annotation.compute, "gpu"),
      422,
      'spot-orchestrator.io/compute: "gpu" is not allowed; allowed values: spot, fargate, on-demand',
    ],
    [
      "an unknown compute on a Deployment not opted in (yet)",
      "deployment-update-not-opted-in",
      annotate(Annotation.compute, "gpu"),
      422,
      'spot-orchestrator.io/compute: "gpu" is not allowed; allowed values: spot, fargate, on-demand',
    ],
    [
      "an unknown compute with enabled=false",
      create,
      edits(annotate(Annotation.enabled, "false"), annotate(Annotation.compute, "gpu")),
      422,
      'spot-orchestrator.io/compute: "gpu" is not allowed; allowed values: spot, fargate, on-demand',
    ],
    ...["high", "1.5", "", "99999999999"].map((value): [string, string, Edit, number, string] => [
      `a priority of ${JSON.stringify(value)}, even when not opted in`,
      "deployment-update-not-opted-in",
      annotate(Annotation.priority, value),
      422,
      `spot-orchestrator.io/priority: ${JSON.stringify(value)} is not allowed; allowed values: a whole number ` +
        "from -2147483647 to 2147483647 (higher moves to Fargate first when the Fargate budget is short)",
    ]),
    [
      "an enabled value other than true|false, even when not opted in",
      "deployment-update-not-opted-in",
      annotate(Annotation.enabled, "yes"),
      422,
      'spot-orchestrator.io/enabled: "yes" is not allowed; allowed values: true, false',
    ],
    [
      "an unknown reason from a user",
      update,
      annotate(Annotation.reason, "because"),
      422,
      'spot-orchestrator.io/reason: "because" is not allowed; allowed values: spot-interruption, ' +
        "capacity-reservation-interruption, rebalance-recommendation, instance-stopping, scheduled-change, asg-termination, recovery, rollback, manual",
    ],
    [
      "a CREATE on Fargate with hostNetwork",
      create,
      podSpec((s) => (s.hostNetwork = true)),
      403,
      'spot-orchestrator.io/compute: "fargate" is not allowed for this Deployment because it cannot run on ' +
        "Fargate (hostNetwork is not supported on Fargate); allowed values: spot, on-demand",
    ],
    [
      "a move to Fargate of a privileged GPU container",
      update,
      container((c) => {
        c.securityContext = { privileged: true };
        c.resources.limits["nvidia.com/gpu"] = "1";
      }),
      403,
      'spot-orchestrator.io/compute: "fargate" is not allowed for this Deployment because it cannot run on ' +
        'Fargate (container "checkout" is privileged; container "checkout" requests nvidia.com/gpu); allowed values: spot, on-demand',
    ],
    [
      "opting in while compute=fargate is already set, with a hostPath volume",
      update,
      edits(
        annotate(Annotation.enabled, undefined, "oldObject"),
        annotate(Annotation.compute, "fargate", "oldObject"),
        podSpec(
          (s) => (s.volumes = [{ name: "docker", hostPath: { path: "/var/run/docker.sock", type: "" } }]),
        ),
      ),
      403,
      'spot-orchestrator.io/compute: "fargate" is not allowed for this Deployment because it cannot run on ' +
        'Fargate (volume "docker" is a hostPath); allowed values: spot, on-demand',
    ],
    [
      "several problems at once, naming each",
      create,
      edits(
        annotate(Annotation.reason, "because"),
        podSpec((s) => (s.containers[0].resources.requests.cpu = "17")),
      ),
      422,
      'spot-orchestrator.io/reason: "because" is not allowed; allowed values: spot-interruption, ' +
        "capacity-reservation-interruption, rebalance-recommendation, instance-stopping, scheduled-change, asg-termination, recovery, rollback, manual; " +
        'spot-orchestrator.io/compute: "fargate" is not allowed for this Deployment because it cannot run on ' +
        "Fargate (requests 17 vCPU, more than Fargate's 16); allowed values: spot, on-demand",
    ],
  ])("%s", async (_name, name, edit, code, message) => {
    const review = fixture(name);
    edit(review);
    const response = await validateReview(review);
    expect(response).toEqual({
      uid: review.request.uid,
      allowed: false,
      status: { code, reason: code === 422 ? "Invalid" : "Forbidden", message },
    });
  });
});

describe("validate warns", () => {
  it("when an incompatible Deployment opts in", async () => {
    const review = fixture(update);
    annotate(Annotation.enabled, undefined, "oldObject")(review);
    annotate(Annotation.compute, undefined)(review);
    container((c) => (c.ports[0].hostPort = 8080))(review);
    const response = await validateReview(review);
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      'this Deployment cannot run on Fargate (container "checkout" uses hostPort 8080); ' +
        "when its node is interrupted it moves to on-demand nodes if the orchestrator's fallback is on " +
        "(fargate.fallback=on-demand), and otherwise stays where it is",
    ]);
  });
});
