// The apiserver of the local control plane calls the webhook running in the container image (a URL webhook on
// 127.0.0.1, host networking), and a Deployment written through the API comes back placed on Fargate.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { apiErrorMessage } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { optedInApp } from "../support/workloads.ts";
import { freePort, waitUntilReady, type OrchestratorProcess } from "../../harness/stack/process.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import { registerWebhook, type WebhookRegistration } from "../../harness/stack/webhookRegistration.ts";
import { generateSelfSigned, writeCertFiles } from "../../webhook/selfSigned.ts";
import {
  containerImage,
  imageBuildTimeoutMs,
  removeContainer,
  restrictedRunFlags,
  startContainer,
  type ContainerImage,
} from "./image.ts";

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const ns = useNamespace("image-webhook");
const suffix = randomBytes(3).toString("hex");
const name = `sfo-image-webhook-${suffix}`;

let image: ContainerImage;
let webhook: OrchestratorProcess | undefined;
let registration: WebhookRegistration | undefined;
let healthPort = 0;

beforeAll(async () => {
  image = await containerImage();
  // The serving certificate mounted read-only at /tls, as the chart mounts its TLS Secret (mode 0644).
  const tlsDir = mkdtempSync(join(tmpdir(), "sfo-image-tls-"));
  const bundle = generateSelfSigned();
  await writeCertFiles(tlsDir, bundle);
  for (const file of readdirSync(tlsDir)) chmodSync(join(tlsDir, file), 0o644);
  chmodSync(tlsDir, 0o755);

  const port = await freePort();
  healthPort = await freePort();
  webhook = startContainer(
    image,
    name,
    [...restrictedRunFlags, "--network=host", `--volume=${tlsDir}:/tls:ro`],
    ["webhook", `--port=${port}`, `--health-port=${healthPort}`],
    join(clusterDir, "logs", name),
  );
  await waitUntilReady(webhook, `http://127.0.0.1:${healthPort}/readyz`, 30_000);
  registration = await registerWebhook(kc, {
    name,
    baseUrl: `https://127.0.0.1:${port}`,
    caBundle: Buffer.from(bundle.caPem).toString("base64"),
    namespace: ns.name,
  });
}, imageBuildTimeoutMs);

afterAll(async () => {
  await registration?.remove();
  await webhook?.stop(10_000);
  if (image) await removeContainer(image, name);
});

const requests = async (endpoint: "mutate" | "validate"): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`);
  return metricValue(await res.text(), "spot_orchestrator_webhook_requests_total", { endpoint });
};

describe("the webhook in the container image, called by the apiserver", () => {
  it("places an opted-in Deployment on Fargate when it is created with compute=fargate", async () => {
    const before = { mutate: await requests("mutate"), validate: await requests("validate") };
    const app = optedInApp("checkout", 1, {});
    app.metadata!.annotations![Annotation.compute] = "fargate";
    const created = await apps.createNamespacedDeployment({ namespace: ns.name, body: app });

    expect(created.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
    expect(created.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(created.metadata?.annotations?.[Annotation.reason]).toBe("manual");
    expect(await requests("mutate")).toBeGreaterThan(before.mutate);
    expect(await requests("validate")).toBeGreaterThan(before.validate);
  });

  it("has the apiserver deny an invalid compute value, with the webhook's message", async () => {
    const app = optedInApp("typo", 1, {});
    app.metadata!.annotations![Annotation.compute] = "fargat";
    const outcome = await apps.createNamespacedDeployment({ namespace: ns.name, body: app }).then(
      () => "created",
      (err: unknown) => apiErrorMessage(err),
    );
    expect(outcome).toBe(
      `admission webhook "validate.spot-orchestrator.io" denied the request: ` +
        `${Annotation.compute}: "fargat" is not allowed; allowed values: spot, fargate, on-demand`,
    );
  });
});
