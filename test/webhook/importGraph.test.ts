// The webhook process needs no Kubernetes client and no AWS SDK (they would double its memory and start-up
// time): the real `spot-orchestrator webhook` runs with every module it resolves recorded, answers admission
// requests, probes and metrics, and stops; none of those packages may have been loaded.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSelfSigned, writeCertFiles } from "../../webhook/selfSigned.ts";
import { freePort, startOrchestrator, waitUntilReady } from "../../harness/stack/process.ts";
import { fixture, httpsPost } from "../support/admissionReviews.ts";

const FORBIDDEN = [/^@kubernetes\//, /^@aws-sdk\//, /^@smithy\//, /^node-forge$/];

/** The packages under node_modules that the recorded URLs come from. */
function packagesOf(urls: string[]): Set<string> {
  const names = urls.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]);
  return new Set(names.filter((name) => name !== undefined));
}

let dir: string;
let modules: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "webhook-import-graph-"));
  const tls = generateSelfSigned();
  const files = await writeCertFiles(dir, tls);
  const [port, healthPort] = [await freePort(), await freePort()];
  const traceFile = join(dir, "modules.txt");
  const webhook = startOrchestrator(
    "webhook-import-graph",
    ["webhook", "--tls-cert", files.certFile, "--tls-key", files.keyFile],
    {
      env: {
        WEBHOOK_PORT: `${port}`,
        HEALTH_PORT: `${healthPort}`,
        NODE_OPTIONS: `--import=${join(import.meta.dirname, "moduleTrace.ts")}`,
        MODULE_TRACE_FILE: traceFile,
      },
      logDir: dir,
    },
  );
  try {
    await waitUntilReady(webhook, `http://127.0.0.1:${healthPort}/readyz`);
    // every path a request takes: a patch, a validation, a bad request, the metrics
    const mutated = await httpsPost(port, "/mutate", fixture("deployment-create-fargate"), { ca: tls.caPem });
    expect(mutated.json.response.patchType).toBe("JSONPatch");
    const validated = await httpsPost(port, "/validate", fixture("deployment-update-to-fargate"), {
      ca: tls.caPem,
    });
    expect(validated.status).toBe(200);
    expect((await httpsPost(port, "/mutate", { kind: "AdmissionReview" }, { ca: tls.caPem })).status).toBe(
      400,
    );
    expect((await fetch(`http://127.0.0.1:${healthPort}/metrics`)).status).toBe(200);
  } finally {
    expect(await webhook.stop()).toBe(0);
  }
  modules = (await readFile(traceFile, "utf8")).split("\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the webhook process's modules", () => {
  it("include the webhook's own (the trace sees what the process loads)", () => {
    expect(modules.some((url) => url.endsWith("/webhook/app.ts"))).toBe(true);
    expect(packagesOf(modules)).toContain("pino");
    expect(packagesOf(modules)).toContain("prom-client");
    expect(packagesOf(modules)).toContain("valibot");
  });

  it("exclude the Kubernetes client, the AWS SDK and the development certificate library", () => {
    const forbidden = [...packagesOf(modules)].filter((name) => FORBIDDEN.some((re) => re.test(name)));
    expect(forbidden).toEqual([]);
  });
});
