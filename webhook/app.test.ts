import { Agent, request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlacementConfig } from "../core/placement.ts";
import { createApp } from "./app.ts";
import { createMetrics } from "./metrics.ts";
import {
  fixture,
  ORCHESTRATOR,
  postJson,
  serveHttp,
  testApp,
  type Json,
} from "../test/support/admissionReviews.ts";
import { quietLog } from "../test/support/log.ts";

const metrics = createMetrics();
let server: Awaited<ReturnType<typeof serveHttp>>;
beforeAll(async () => (server = await serveHttp(testApp(metrics))));
afterAll(() => server.close());

/** Every answer, error or not, is an AdmissionReview whose status code matches the HTTP one. */
function expectReviewError(res: Awaited<ReturnType<typeof postJson>>, code: number, message: RegExp) {
  expect(res.status).toBe(code);
  expect(res.contentType).toMatch(/^application\/json/);
  expect(res.json).toMatchObject({ kind: "AdmissionReview", response: { allowed: false, status: { code } } });
  expect(res.json.response.status.message).toMatch(message);
}

const review = () => fixture("deployment-create-fargate");
const set = (path: string, value: unknown) => {
  const r = review();
  const keys = path.split(".");
  const last = keys.pop()!;
  const parent = keys.reduce((obj, key) => obj[key], r);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return r;
};

describe("HTTP layer", () => {
  it.each<[string, unknown, Record<string, string>, number, RegExp]>([
    ["an empty body", "", {}, 400, /request body is empty/],
    [
      "a non-JSON content type",
      JSON.stringify(review()),
      { "content-type": "text/plain" },
      415,
      /expected application\/json/,
    ],
    ["a form body", "a=b", { "content-type": "application/x-www-form-urlencoded" }, 415, /content type/],
    [
      "a compressed body",
      JSON.stringify(review()),
      { "content-encoding": "gzip" },
      415,
      /content encoding gzip is not supported/,
    ],
    ["malformed JSON", '{"apiVersion": "admission.k8s.io/v1", "request": {', {}, 400, /not valid JSON/],
    ["a JSON string", '"hello"', {}, 400, /body: .*expected object/i],
    ["no request", set("request", undefined), {}, 400, /^request: /],
    ["no request.uid", set("request.uid", undefined), {}, 400, /^request\.uid: /],
    ["an empty request.uid", set("request.uid", ""), {}, 400, /^request\.uid: /],
    ["an unknown apiVersion", set("apiVersion", "admission.k8s.io/v2"), {}, 400, /^apiVersion: /],
    ["another kind of review", set("kind", "TokenReview"), {}, 400, /^kind: /],
    ["an unknown operation", set("request.operation", "PATCH"), {}, 400, /^request\.operation: /],
    ["an array for the object", set("request.object", []), {}, 400, /^request\.object: /],
    ["a string for metadata", set("request.object.metadata", "x"), {}, 400, /^request\.object\.metadata: /],
    [
      "a number for an annotation",
      set("request.object.metadata.annotations.x", 1),
      {},
      400,
      /annotations\.x: /,
    ],
    ["no pod template", set("request.object.spec.template", undefined), {}, 400, /spec\.template: /],
  ])("%s → %i", async (_name, body, headers, code, message) => {
    for (const endpoint of ["mutate", "validate"]) {
      expectReviewError(await postJson(`${server.url}/${endpoint}`, body, headers), code, message);
    }
  });

  it("a body over 7 MB → 413", async () => {
    const r = review();
    r.request.object.metadata.annotations.padding = "x".repeat(7 * 1024 * 1024);
    expectReviewError(await postJson(`${server.url}/mutate`, r), 413, /larger than the 7340032 byte limit/);
  });

  it("a body over the limit is read off: the kept-alive connection answers the next request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = review();
      big.request.object.metadata.annotations.padding = "x".repeat(7 * 1024 * 1024);
      const first = await post(`${server.url}/mutate`, JSON.stringify(big), agent);
      const second = await post(`${server.url}/mutate`, JSON.stringify(review()), agent);
      expect([first.status, second.status]).toEqual([413, 200]);
      expect(second.localPort).toBe(first.localPort);
    } finally {
      agent.destroy();
    }
  });

  it("a request without a body → 400", async () => {
    const res = await fetch(`${server.url}/validate`, { method: "POST" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).response.status.message).toBe("request body is empty");
  });

  it("replies with the apiVersion and uid it received", async () => {
    const res = await postJson(`${server.url}/mutate`, set("apiVersion", "admission.k8s.io/v9"));
    expect(res.json.apiVersion).toBe("admission.k8s.io/v9");
    expect(res.json.response.uid).toBe(review().request.uid);
  });

  it("other paths and methods get a JSON 404", async () => {
    const res = await fetch(`${server.url}/mutate`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).message).toMatch(/use POST \/mutate or \/validate/);
  });

  it("a crash in a handler answers 500 with the uid, and the server keeps serving", async () => {
    const broken = new Proxy({} as PlacementConfig, {
      get() {
        throw new Error("placement exploded");
      },
    });
    const crashing = await serveHttp(
      createApp({
        placement: broken,
        orchestratorUsername: ORCHESTRATOR,
        optIn: { namespaces: [], deploymentName: "" },
        log: quietLog,
        metrics: createMetrics(),
      }),
    );
    try {
      const res = await postJson(`${crashing.url}/mutate`, review());
      expectReviewError(res, 500, /internal error/);
      expect(res.json.response.uid).toBe(review().request.uid);
      expect((await postJson(`${crashing.url}/validate`, review())).status).toBe(200);
    } finally {
      await crashing.close();
    }
  });
});

describe("generated malformed bodies", () => {
  const endpoint = fc.constantFrom("mutate", "validate");
  const answer = async (path: string, body: string) => {
    const res = await postJson(`${server.url}/${path}`, body);
    expect([200, 400]).toContain(res.status);
    expect(res.json.kind).toBe("AdmissionReview");
    return res;
  };

  it("random JSON values never get a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, fc.jsonValue(), async (path, value) => {
        expect((await answer(path, JSON.stringify(value))).status).toBe(400);
      }),
      { numRuns: 200 },
    );
  });

  it("truncated JSON gets a 400", async () => {
    const text = JSON.stringify(review());
    await fc.assert(
      fc.asyncProperty(endpoint, fc.integer({ min: 1, max: text.length - 1 }), async (path, cut) => {
        expect((await answer(path, text.slice(0, cut))).status).toBe(400);
      }),
      { numRuns: 150 },
    );
  });

  const fields = [
    "apiVersion",
    "kind",
    "request",
    "request.uid",
    "request.kind",
    "request.kind.group",
    "request.operation",
    "request.name",
    "request.namespace",
    "request.subResource",
    "request.userInfo",
    "request.userInfo.username",
    "request.dryRun",
    "request.object",
    "request.oldObject",
    "request.object.metadata",
    "request.object.metadata.annotations",
    "stash",
    "request.object.metadata.labels",
    "request.object.spec",
    "request.object.spec.template.metadata",
    "request.object.spec.template.spec",
    "request.object.spec.template.spec.containers",
    "request.object.spec.template.spec.containers.0.resources",
    "request.object.spec.template.spec.containers.0.ports",
    "request.object.spec.template.spec.affinity",
    "request.object.spec.template.spec.tolerations",
    "request.object.spec.template.spec.nodeSelector",
  ];

  it("wrong types for request fields get a 200 or a 400, never a 5xx", async () => {
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(endpoint, fc.constantFrom(...fields), value, async (path, field, v) => {
        const body = field === "stash" ? withStash(JSON.stringify(v) ?? "") : set(field, v);
        const res = await answer(path, JSON.stringify(body));
        if (res.status === 200) expect(res.json.response.uid).toBe(body.request.uid);
      }),
      { numRuns: 300 },
    );
  });

  it("leaves the server answering correctly, with no 5xx counted", async () => {
    const res = await postJson(`${server.url}/mutate`, review());
    expect(res.json.response.patchType).toBe("JSONPatch");
    const errors = (await metrics.requests.get()).values.filter((v) => v.labels.result === "error");
    expect(errors.reduce((sum, v) => sum + v.value, 0)).toBe(0);
  });
});

/** POSTs JSON through `agent`; reports the status and the local port of the connection used. */
function post(url: string, body: string, agent: Agent): Promise<{ status: number; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        const localPort = res.socket.localPort ?? 0;
        res.resume().on("end", () => resolve({ status: res.statusCode ?? 0, localPort }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A Deployment moving back to spot with `value` as its spot-placement stash. */
function withStash(value: string): Json {
  const r = review();
  r.request.object.metadata.annotations["spot-orchestrator.io/spot-placement"] = value;
  r.request.object.metadata.annotations["spot-orchestrator.io/compute"] = "spot";
  return r;
}
