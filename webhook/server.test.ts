import { X509Certificate } from "node:crypto";
import { mkdtemp, rename, rm, symlink, writeFile, mkdir } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fastJsonPatch from "fast-json-patch";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../core/contract.ts";
import { place } from "../core/placement.ts";
import { startHealthServer, type HealthServer } from "../core/healthServer.ts";
import { createMetrics } from "./metrics.ts";
import { generateSelfSigned, writeCertFiles, type CertBundle, type CertFiles } from "./selfSigned.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";
import { fixture, httpsPost, placement, testApp } from "../test/support/admissionReviews.ts";
import { quietLog } from "../test/support/log.ts";

const { applyPatch } = fastJsonPatch;
const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

let dir: string;
let first: CertBundle;
let second: CertBundle;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "webhook-server-test-"));
  first = generateSelfSigned();
  second = generateSelfSigned();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function serve(files: CertFiles, app = testApp(), certPollIntervalMs = 200): Promise<WebhookServer> {
  const server = await startWebhookServer({
    app,
    port: 0,
    host: "127.0.0.1",
    certFile: files.certFile,
    keyFile: files.keyFile,
    log: quietLog,
    certPollIntervalMs,
  });
  open.push(server);
  return server;
}

async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("HTTPS admission server", () => {
  it("answers /mutate over TLS with a base64 JSON patch that yields the placed Deployment", async () => {
    const server = await serve(await writeCertFiles(join(dir, "mutate"), first));
    const review = fixture("deployment-create-fargate");
    const res = await httpsPost(server.port, "/mutate", review, { ca: first.caPem });
    expect(res.status).toBe(200);
    expect(res.fingerprint).toBe(fingerprintOf(first.certPem));
    const { response } = res.json;
    expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: "JSONPatch" });
    const ops = JSON.parse(Buffer.from(response.patch, "base64").toString("utf8"));
    const patched = applyPatch(structuredClone(review.request.object), ops, true, false).newDocument;
    const expected = place(review.request.object, "fargate", placement);
    expect(patched.spec).toEqual(expected.spec);
    expect(patched.metadata.labels[COMPUTE_LABEL]).toBe("fargate");
    expect(patched.metadata.annotations[Annotation.spotPlacement]).toBe(
      expected.metadata!.annotations![Annotation.spotPlacement],
    );
  });

  it("serves probes and metrics on the health port", async () => {
    const metrics = createMetrics();
    const server = await serve(await writeCertFiles(join(dir, "health"), first), testApp(metrics));
    const health: HealthServer = await startHealthServer({
      port: 0,
      host: "127.0.0.1",
      registry: metrics.registry,
      isReady: server.isReady,
      log: quietLog,
    });
    open.push(health);
    await httpsPost(server.port, "/mutate", fixture("deployment-create-fargate"), { ca: first.caPem });
    const url = `http://127.0.0.1:${health.port}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('spot_orchestrator_webhook_requests_total{endpoint="mutate",result="patched"} 1');
    expect(text).toContain('spot_orchestrator_webhook_patches_total{compute="fargate"} 1');
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    await server.close();
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
  });
});

describe("certificate rotation", () => {
  it("new connections get a rewritten certificate; an open keep-alive connection stays up", async () => {
    const files = await writeCertFiles(join(dir, "rewrite"), first);
    const server = await serve(files);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: first.caPem });
    const review = fixture("deployment-create-fargate");
    const before = await httpsPost(server.port, "/validate", review, { ca: first.caPem, agent });
    expect(before.fingerprint).toBe(fingerprintOf(first.certPem));

    // Written file by file, as a careless rotation would: the key and the cert mismatch for a moment.
    await writeCertFiles(join(dir, "rewrite"), second);
    const rotated = await eventually(
      () => httpsPost(server.port, "/validate", review, { ca: `${first.caPem}${second.caPem}` }),
      (res) => res.fingerprint === fingerprintOf(second.certPem),
    );
    expect(rotated.fingerprint).toBe(fingerprintOf(second.certPem));

    const after = await httpsPost(server.port, "/validate", review, { ca: first.caPem, agent });
    expect(after.status).toBe(200);
    expect(after.localPort).toBe(before.localPort);
    expect(after.fingerprint).toBe(fingerprintOf(first.certPem));
    agent.destroy();
  });

  it("follows a kubelet-style Secret volume update (the ..data symlink swapped by rename)", async () => {
    const volume = join(dir, "volume");
    const publish = async (name: string, bundle: CertBundle) => {
      await mkdir(join(volume, name), { recursive: true });
      await writeFile(join(volume, name, "tls.crt"), bundle.certPem);
      await writeFile(join(volume, name, "tls.key"), bundle.keyPem);
      await symlink(name, join(volume, "..data_tmp"));
      await rename(join(volume, "..data_tmp"), join(volume, "..data"));
    };
    await publish("..2025_11_25_10_00_00.1", first);
    await symlink("..data/tls.crt", join(volume, "tls.crt"));
    await symlink("..data/tls.key", join(volume, "tls.key"));
    const server = await serve({
      caFile: "",
      certFile: join(volume, "tls.crt"),
      keyFile: join(volume, "tls.key"),
    });
    const ca = `${first.caPem}${second.caPem}`;
    const review = fixture("deployment-create-fargate");
    expect((await httpsPost(server.port, "/validate", review, { ca })).fingerprint).toBe(
      fingerprintOf(first.certPem),
    );

    await publish("..2025_11_25_11_00_00.2", second);
    const rotated = await eventually(
      () => httpsPost(server.port, "/validate", review, { ca }),
      (res) => res.fingerprint === fingerprintOf(second.certPem),
    );
    expect(rotated.fingerprint).toBe(fingerprintOf(second.certPem));
  });
});

describe("graceful shutdown", () => {
  it("stops accepting, lets the in-flight request finish, then closes", async () => {
    const app = testApp();
    let received: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => (received = resolve));
    const slow: typeof app = ((req, res) => {
      received();
      setTimeout(() => app(req, res), 300);
    }) as typeof app;
    const server = await serve(await writeCertFiles(join(dir, "shutdown"), first), slow);
    const agent = new Agent({ keepAlive: true, ca: first.caPem });
    const review = fixture("deployment-create-fargate");

    const pending = httpsPost(server.port, "/mutate", review, { ca: first.caPem, agent });
    await inFlight;
    const started = Date.now();
    const closed = server.close();
    expect(server.isReady()).toBe(false);
    await expect(httpsPost(server.port, "/mutate", review, { ca: first.caPem })).rejects.toThrow(
      /ECONNREFUSED/,
    );

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json.response.patchType).toBe("JSONPatch");
    await closed;
    // The keep-alive connection was closed once idle instead of holding shutdown for its idle timeout.
    expect(Date.now() - started).toBeLessThan(2000);
    agent.destroy();
  });
});
