// `npm run demo` end to end, non-interactively, against the cluster the integration run already started:
// the demo must succeed, reuse (and leave running) that cluster, clean up its own things, and write a
// report whose timeline shows the trip to Fargate and back without ever losing every ready endpoint.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { extractJson, type Timeline } from "../../demo/report.ts";
import { demoDir } from "../../demo/state.ts";
import type { DemoSummary } from "../../demo/summary.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { apiserverAnswers } from "../../harness/cluster/kubeconfig.ts";
import { repoRoot } from "../../harness/cluster/paths.ts";

const demoTimeoutMs = 240_000;

describe("npm run demo", () => {
  it(
    "drills an interruption: to Fargate and back to spot with the original placement, never without endpoints",
    async () => {
      const report = join(await mkdtemp(join(tmpdir(), "spot-orchestrator-demo-")), "demo-report.html");
      const run = await runDemo(["--ci", "--kubeconfig", testKubeconfigPath(), "--report", report]);
      expect(run.code, `the demo failed:\n${run.output}`).toBe(0);
      expect(run.output).toContain("event → flip");
      expect(run.output).toContain("recovery time");

      const html = await readFile(report, "utf8");
      const summary = extractJson(html, "summary") as DemoSummary;
      const timeline = extractJson(html, "timeline") as Timeline;
      expect(summary.endedOnSpot).toBe(true);
      expect(summary.placementRestored).toBe(true);
      expect(summary.minReadyEndpoints).toBeGreaterThan(0);

      const { samples } = timeline;
      const n = summary.replicas;
      expect(samples.length).toBeGreaterThan(10);
      expect(samples[0]).toMatchObject({ spot: n, fargate: 0 });
      expect(samples.some((s) => s.fargate === n && s.spot === 0)).toBe(true);
      expect(samples.at(-1)).toMatchObject({ spot: n, fargate: 0, endpoints: n });
      expect(Math.min(...samples.map((s) => s.endpoints))).toBeGreaterThan(0);
      const texts = timeline.drillSteps.map((s) => s.text).join("\n");
      for (const step of [
        "event received",
        "flipped",
        "scheduled on Fargate",
        "terminated",
        "recovered to spot",
      ])
        expect(texts).toContain(step);

      // The cluster it reused still runs; the demo's own things are gone.
      expect(await apiserverAnswers(testKubeconfigPath())).toBe(true);
      expect(existsSync(join(demoDir, `${summary.namespace}.json`))).toBe(false);
      const namespace = await ignoreNotFound(() =>
        testKubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: summary.namespace }),
      );
      expect(namespace === undefined || namespace.metadata?.deletionTimestamp !== undefined).toBe(true);
      for (const node of Object.keys(summary.finalNodes)) {
        const found = await ignoreNotFound(() =>
          testKubeConfig().makeApiClient(CoreV1Api).readNode({ name: node }),
        );
        expect(found, `node ${node} left behind`).toBeUndefined();
      }
    },
    demoTimeoutMs + 30_000,
  );
});

/** Runs `node demo/main.ts` with `args`; kills it after `demoTimeoutMs` and reports what it printed. */
function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "demo/main.ts"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the demo did not finish within ${demoTimeoutMs / 1000}s:\n${output}`));
    }, demoTimeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
