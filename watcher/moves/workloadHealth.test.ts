import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { V1Deployment, V1EndpointSlice, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { newReplicaSet } from "../cluster/newPods.ts";
import { httpHealthy, missingEndpoints, podUrl, serviceSelects } from "./workloadHealth.ts";

describe("serviceSelects", () => {
  const labels = { app: "web", "pod-template-hash": "abc" };
  it.each([
    [{ app: "web" }, true],
    [{ app: "web", tier: "front" }, false],
    [{ app: "api" }, false],
    [{}, false],
    [undefined, false],
  ])("selector %j: %s", (selector, expected) => {
    expect(serviceSelects({ spec: selector ? { selector } : {} }, labels)).toBe(expected);
  });
});

describe("newReplicaSet", () => {
  const deployment: V1Deployment = {
    metadata: { uid: "d1", annotations: { "deployment.kubernetes.io/revision": "2" } },
  };
  const rs = (name: string, owner: string, revision: string): V1ReplicaSet => ({
    metadata: {
      name,
      annotations: { "deployment.kubernetes.io/revision": revision },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: owner, controller: true },
      ],
    },
  });
  it("picks the Deployment's ReplicaSet of the current revision", () => {
    const sets = [rs("old", "d1", "1"), rs("other", "d2", "2"), rs("new", "d1", "2")];
    expect(newReplicaSet(deployment, sets)?.metadata?.name).toBe("new");
    expect(newReplicaSet(deployment, [rs("old", "d1", "1")])).toBeUndefined();
  });
});

describe("missingEndpoints", () => {
  const pod = (uid: string, ip: string): V1Pod => ({ metadata: { name: uid, uid }, status: { podIP: ip } });
  const slice = (endpoints: V1EndpointSlice["endpoints"]): V1EndpointSlice => ({
    addressType: "IPv4",
    endpoints,
  });
  it("finds pods that are not ready endpoints", () => {
    const pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), pod("c", "10.0.0.3"), pod("d", "10.0.0.4")];
    const slices = [
      slice([
        { addresses: ["10.0.0.1"], conditions: { ready: true }, targetRef: { kind: "Pod", uid: "a" } },
        { addresses: ["10.0.0.2"], conditions: { ready: false }, targetRef: { kind: "Pod", uid: "b" } },
      ]),
      // a nil ready condition counts as ready; a match by address is enough
      slice([{ addresses: ["10.0.0.3"] }]),
    ];
    expect(missingEndpoints(pods, slices).map((p) => p.metadata?.uid)).toEqual(["b", "d"]);
  });
});

describe("podUrl", () => {
  const pod = (ip: string | undefined, ports: number[]): V1Pod => ({
    spec: {
      containers: [
        { name: "sidecar" },
        { name: "app", ports: ports.map((containerPort) => ({ containerPort })) },
      ],
    },
    status: ip ? { podIP: ip } : {},
  });
  it.each([
    [pod("10.0.0.1", [8080, 9090]), "/healthz", "http://10.0.0.1:8080/healthz"],
    [pod("10.0.0.1", [8080]), "ready", "http://10.0.0.1:8080/ready"],
    [pod("fd00::1", [80]), "/", "http://[fd00::1]:80/"],
    [pod(undefined, [8080]), "/", undefined],
    [pod("10.0.0.1", []), "/", undefined],
  ])("%#", (p, path, expected) => {
    expect(podUrl(p, path)).toBe(expected);
  });
});

describe("httpHealthy", () => {
  let server: Server;
  let base: string;
  let flaky = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/ok") res.writeHead(200).end("ok");
      else if (req.url === "/flaky") res.writeHead(flaky++ < 2 ? 503 : 204).end();
      else res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("passes on a 2xx answer", async () => {
    expect(await httpHealthy(`${base}/ok`, { retries: 1, intervalMs: 1 })).toEqual({ ok: true });
  });
  it("retries until an answer is healthy", async () => {
    flaky = 0;
    expect(await httpHealthy(`${base}/flaky`, { retries: 3, intervalMs: 1 })).toEqual({ ok: true });
  });
  it("fails with the last answer after the retries", async () => {
    expect(await httpHealthy(`${base}/broken`, { retries: 2, intervalMs: 1 })).toEqual({
      ok: false,
      why: `GET ${base}/broken answered 500`,
    });
  });
  it("fails when nothing listens", async () => {
    const result = await httpHealthy("http://127.0.0.1:1/x", { retries: 1, intervalMs: 1 });
    expect(result.ok).toBe(false);
  });
});
