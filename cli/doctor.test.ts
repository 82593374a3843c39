// doctor against a stand-in apiserver on 127.0.0.1 that answers the calls doctor makes: the version, one
// SelfSubjectAccessReview per permission (some denied), and the opted-in Deployments.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../core/contract.ts";
import { loadConfig } from "../core/config.ts";
import { createKube } from "../core/kube.ts";
import { accessList } from "../watcher/apiCalls.ts";
import { queueAnnotations } from "../watcher/lease/queueOnLease.ts";
import { clusterChecks, leaderQueueCheck, REQUIRED_ACCESS } from "./doctor.ts";

const queueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/spot-orchestrator-1a2b3c4d";

const denied = new Set(["apps/deployments/patch", "coordination.k8s.io/leases/create"]);
let server: Server;
let kubeconfig: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const json = (value: unknown) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
      if (req.url === "/version") return json({ gitVersion: "v1.36.3" });
      if (req.url?.startsWith("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")) {
        const { group, resource, verb } = JSON.parse(body).spec.resourceAttributes;
        const allowed = !denied.has(`${group}/${resource}/${verb}`);
        return json({
          kind: "SelfSubjectAccessReview",
          status: { allowed, ...(allowed ? {} : { reason: "no RBAC rule" }) },
        });
      }
      if (req.url === "/apis/coordination.k8s.io/v1/namespaces/so/leases/spot-fargate-orchestrator") {
        return json({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: {
            name: "spot-fargate-orchestrator",
            namespace: "so",
            annotations: queueAnnotations(queueUrl, {
              state: "unreachable",
              since: new Date(Date.now() - 90_000),
              error: "AccessDenied: not authorized to perform: sqs:receivemessage (HTTP 403)",
            }),
          },
          spec: {
            holderIdentity: "so-7d9-x2",
            renewTime: new Date().toISOString(),
            leaseDurationSeconds: 15,
          },
        });
      }
      if (req.url?.startsWith("/apis/apps/v1/deployments")) {
        return json({
          items: [
            {
              metadata: { name: "agent", namespace: "ops", annotations: { [Annotation.enabled]: "true" } },
              spec: { selector: {}, template: { spec: { hostNetwork: true, containers: [{ name: "a" }] } } },
            },
          ],
        });
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  kubeconfig = join(mkdtempSync(join(tmpdir(), "doctor-")), "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "c", cluster: { server: `http://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } },
      ],
      users: [{ name: "u", user: {} }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("doctor's cluster checks", () => {
  it("ask about every call the watcher makes, and say which are denied and why", async () => {
    const checks = await clusterChecks(createKube({ kubeconfig }), loadConfig({ env: {} }));
    expect(checks[0]).toEqual({ status: "ok", what: "apiserver reachable", detail: "v1.36.3" });
    const permissions = checks.filter((c) => c.what.startsWith("may "));
    expect(REQUIRED_ACCESS).toEqual(accessList("cluster"));
    expect(permissions).toHaveLength(REQUIRED_ACCESS.length + 1);
    expect(permissions.find((c) => c.what === "may patch deployments.apps")).toEqual({
      status: "fail",
      what: "may patch deployments.apps",
      detail: "no RBAC rule",
    });
    expect(permissions.filter((c) => c.status === "fail")).toHaveLength(2);
    expect(permissions.at(-1)).toEqual({
      status: "fail",
      what: "may update leases.coordination.k8s.io/spot-fargate-orchestrator in default (and get, create it)",
      detail: "may create leases.coordination.k8s.io/spot-fargate-orchestrator in default: no RBAC rule",
    });
  });

  it("warn about opted-in Deployments that cannot run on Fargate", async () => {
    const checks = await clusterChecks(createKube({ kubeconfig }), loadConfig({ env: {} }));
    expect(checks).toContainEqual({
      status: "warn",
      what: "ops/agent cannot run on Fargate",
      detail: "hostNetwork is not supported on Fargate",
    });
  });
});

describe("doctor's check of the leader's queue", () => {
  it("fails when the leader reports its queue unreachable, with the AWS error", async () => {
    const check = await leaderQueueCheck(
      createKube({ kubeconfig }),
      loadConfig({ env: { POD_NAMESPACE: "so" } }),
    );
    expect(check.status).toBe("fail");
    expect(check.what).toBe("the leader watcher reads the queue");
    expect(check.detail).toMatch(
      /^https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/spot-orchestrator-1a2b3c4d UNREACHABLE since \S+ \(1m3[01]s ago\): AccessDenied: not authorized to perform: sqs:receivemessage \(HTTP 403\); interruptions are being missed \(leader so-7d9-x2\)$/,
    );
  });

  it("warns when there is no leader Lease to ask", async () => {
    const check = await leaderQueueCheck(createKube({ kubeconfig }), loadConfig({ env: {} }));
    expect(check).toEqual({
      status: "warn",
      what: "the leader watcher reads the queue",
      detail: "unknown: no leader Lease default/spot-fargate-orchestrator",
    });
  });
});
