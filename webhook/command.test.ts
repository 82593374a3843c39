import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../core/config.ts";
import { webhookCommand } from "./command.ts";
import { fixture, httpsPost } from "../test/support/admissionReviews.ts";
import { freePort } from "../harness/stack/process.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "webhook-command-test-"));
  vi.stubEnv("LOG_LEVEL", "silent");
  vi.stubEnv("CONFIG_FILE", undefined);
  vi.stubEnv("MODE", undefined); // vitest sets MODE=test, which is also kubernetes.mode's variable
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe("spot-orchestrator webhook", () => {
  it("--self-signed serves /mutate and probes until SIGTERM, then stops", async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const args = ["--self-signed", "--cert-dir", dir, "--port", `${port}`, "--health-port", `${healthPort}`];
    const running = webhookCommand(args);
    const readyz = `http://127.0.0.1:${healthPort}/readyz`;
    await vi.waitFor(async () => expect((await fetch(readyz)).status).toBe(200), { timeout: 10_000 });

    const ca = await readFile(join(dir, "ca.crt"), "utf8");
    const res = await httpsPost(port, "/mutate", fixture("deployment-create-fargate"), { ca });
    expect(res.json.response.patchType).toBe("JSONPatch");

    process.emit("SIGTERM", "SIGTERM");
    await running;
    await expect(fetch(readyz)).rejects.toThrow();
  });

  it("counts certificate reads and failed reads on /metrics as its files change", async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const args = ["--self-signed", "--cert-dir", dir, "--port", `${port}`, "--health-port", `${healthPort}`];
    const running = webhookCommand(args);
    const metrics = `http://127.0.0.1:${healthPort}/metrics`;
    const value = async (name: string) => {
      const text = await (await fetch(metrics)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    };
    const reads = () => value("spot_orchestrator_webhook_certificate_reads_total");
    const errors = () => value("spot_orchestrator_webhook_certificate_read_errors_total");
    await vi.waitFor(async () => expect(await errors()).toBe(0), { timeout: 10_000 });

    await writeFile(join(dir, "tls.crt"), "not a certificate\n");
    await vi.waitFor(async () => expect(await errors()).toBeGreaterThanOrEqual(1), { timeout: 15_000 });
    expect(await reads()).toBeGreaterThanOrEqual(await errors());

    process.emit("SIGTERM", "SIGTERM");
    await running;
  });

  it("--help prints the flags", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    await webhookCommand(["--help"]);
    expect(String(write.mock.calls[0]?.[0])).toMatch(/--tls-cert FILE[\s\S]*--self-signed/);
  });

  it("rejects an unknown flag", async () => {
    await expect(webhookCommand(["--prot", "1"])).rejects.toThrow(/Unknown option '--prot'/);
  });

  it("reports a bad port as a config problem naming the flag", async () => {
    const err: unknown = await webhookCommand(["--port", "70000"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(["--webhook.port: 70000 is not a port (1-65535)"]);
  });
});
