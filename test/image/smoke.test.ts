// The built container image, run as the chart runs it: what it holds, its size, its CLI, and the webhook
// serving HTTPS under the chart's restrictions (uid 65532, read-only root, no capabilities, only /tmp).
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterDir, repoRoot } from "../../harness/cluster/paths.ts";
import { freePort, waitUntilReady, type OrchestratorProcess } from "../../harness/stack/process.ts";
import { fixture, httpsPost } from "../support/admissionReviews.ts";
import {
  containerImage,
  imageBuildTimeoutMs,
  podman,
  removeContainer,
  restrictedRunFlags,
  startContainer,
  type ContainerImage,
} from "./image.ts";

/** Uncompressed size budget: the distroless Node.js base is about 150 MB of it. */
const sizeBudgetBytes = 220 * 1000 * 1000;
const nonroot = 65532;

const suffix = randomBytes(3).toString("hex");
const logDir = join(clusterDir, "logs", `image-smoke-${suffix}`);
let image: ContainerImage;
let rootfs = "";
const started: string[] = [];

beforeAll(async () => {
  image = await containerImage();
  const mounted = await podman(image, ["image", "mount", image.ref]);
  expect(mounted.code, mounted.stderr).toBe(0);
  rootfs = mounted.stdout.trim();
}, imageBuildTimeoutMs);

afterAll(async () => {
  if (!image) return;
  await Promise.all(started.map((name) => removeContainer(image, name)));
  await podman(image, ["image", "unmount", image.ref]);
});

function container(role: string, flags: readonly string[], args: readonly string[]): OrchestratorProcess {
  const name = `sfo-smoke-${suffix}-${role}`;
  started.push(name);
  return startContainer(image, name, flags, args, logDir);
}

/** `podman run --rm` of the image with these flags and arguments, to completion. */
const runImage = (flags: readonly string[], args: readonly string[]) =>
  podman(image, ["run", "--rm", "--network=none", ...flags, image.ref, ...args]);

/** Sizes of the files under `dir` in the mounted image, in bytes. */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

describe("the container image", () => {
  it("fits its size budget", async () => {
    const inspected = await podman(image, ["image", "inspect", "--format", "{{.Size}}", image.ref]);
    const size = Number(inspected.stdout.trim());
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
    const parts = {
      node: statSync(join(rootfs, "nodejs/bin/node")).size,
      node_modules: treeBytes(join(rootfs, "app/node_modules")),
      sources: ["core", "webhook", "watcher", "cli"].reduce(
        (sum, d) => sum + treeBytes(join(rootfs, "app", d)),
        0,
      ),
    };
    process.stderr.write(
      `[image] ${image.ref}: ${mb(size)} uncompressed (budget ${mb(sizeBudgetBytes)}): ` +
        `${Object.entries(parts)
          .map(([part, bytes]) => `${part} ${mb(bytes)}`)
          .join(", ")}, the rest the distroless base\n`,
    );
    expect(size).toBeGreaterThan(parts.node + parts.node_modules);
    expect(size).toBeLessThanOrEqual(sizeBudgetBytes);
  });

  it("holds the production dependencies only, and no package manager or shell", () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
    };
    // devOptional: a devDependency that some production package names as an optional peer
    const production = Object.entries(lock.packages)
      .filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev && !entry.devOptional)
      .map(([path]) => path);
    const installed = readdirSync(join(rootfs, "app/node_modules"), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name === "package.json")
      .map((entry) => relative(join(rootfs, "app"), entry.parentPath))
      .filter((path) => /^node_modules\/(@[^/]+\/)?[^/@]+(\/node_modules\/(@[^/]+\/)?[^/@]+)*$/.test(path));
    expect(installed.filter((path) => !production.includes(path))).toEqual([]);
    // type-only packages are pruned in the build, like every other type declaration
    const required = production.filter(
      (path) => lock.packages[path]?.optional !== true && !path.includes("@types/"),
    );
    expect(required.filter((path) => !installed.includes(path))).toEqual([]);
    // the console log format's formatter ships; the dev tooling does not
    expect(installed).toContain("node_modules/pino-pretty");
    expect(installed).not.toContain("node_modules/vitest");
    expect(installed).not.toContain("node_modules/typescript");

    const forbidden = ["npm", "npx", "corepack", "yarn", "yarnpkg", "sh", "bash", "dash", "busybox", "env"];
    const found = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "nodejs/bin"]
      .filter((dir) => existsSync(join(rootfs, dir)))
      .flatMap((dir) => readdirSync(join(rootfs, dir)).map((name) => `${dir}/${name}`))
      .filter((path) => forbidden.includes(path.split("/").at(-1)!));
    expect(found).toEqual([]);
    const packageManagers = readdirSync(rootfs, { recursive: true, withFileTypes: true })
      .filter((e) => e.isDirectory() && ["npm", "corepack", "yarn"].includes(e.name))
      .filter((e) => e.parentPath.endsWith("node_modules"))
      .map((e) => relative(rootfs, join(e.parentPath, e.name)));
    expect(packageManagers).toEqual([]);
  });

  it("answers --help for the CLI and every command, also as `spot-orchestrator` on PATH", async () => {
    const top = await runImage([], ["--help"]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/^Usage: spot-orchestrator <command>/);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(["webhook", "watcher", "status", "drill", "doctor"]));
    // every command's --help from one container: each container start costs a podman run
    const eachHelp = `
      const { spawnSync } = require("node:child_process");
      for (const command of ${JSON.stringify(commands)}) {
        const run = spawnSync(process.execPath, ["/app/cli/main.ts", command, "--help"], { encoding: "utf8" });
        console.log(JSON.stringify({ command, code: run.status, stdout: run.stdout, stderr: run.stderr }));
      }`;
    const helps = await runImage(["--entrypoint=/nodejs/bin/node"], ["-e", eachHelp]);
    expect(helps.code, helps.stderr).toBe(0);
    const answers = helps.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(answers.map((a) => a["command"])).toEqual(commands);
    for (const { command, code, stdout, stderr } of answers) {
      expect(code, `${String(command)} --help: ${String(stderr)}`).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: spot-orchestrator ${String(command)}\\b`));
    }
    // what `kubectl exec <pod> -- spot-orchestrator status` runs
    const onPath = await runImage(["--entrypoint=spot-orchestrator"], ["status", "--help"]);
    expect(onPath.code, onPath.stderr).toBe(0);
    expect(onPath.stdout).toMatch(/^Usage: spot-orchestrator status\b/);
  });

  it("runs as uid 65532 with no capabilities and no privilege gain, where only /tmp is writable", async () => {
    const probe = `
      const fs = require("node:fs");
      const status = fs.readFileSync("/proc/self/status", "utf8");
      const field = (name) => new RegExp("^" + name + ":\\\\s*(.*)$", "m").exec(status)[1].trim();
      const writable = {};
      for (const dir of ["/", "/app", "/home/nonroot", "/etc", "/tmp"]) {
        try { fs.writeFileSync(dir + "/probe", "x"); writable[dir] = "ok"; } catch (err) { writable[dir] = err.code; }
      }
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(),
        capEff: field("CapEff"), noNewPrivs: field("NoNewPrivs"), writable }));`;
    const result = await runImage([...restrictedRunFlags, "--entrypoint=/nodejs/bin/node"], ["-e", probe]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      uid: nonroot,
      gid: nonroot,
      capEff: "0000000000000000",
      noNewPrivs: "1",
      writable: { "/": "EROFS", "/app": "EROFS", "/home/nonroot": "EROFS", "/etc": "EROFS", "/tmp": "ok" },
    });
  });

  it("serves the webhook over HTTPS under those restrictions, and stops on SIGTERM with exit code 0", async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    // --self-signed writes its CA here; the test reads it to verify the server's certificate
    const certDir = mkdtempSync(join(tmpdir(), "sfo-image-certs-"));
    chownSync(certDir, nonroot, nonroot);
    const name = `sfo-smoke-${suffix}-webhook`;
    const webhook = container(
      "webhook",
      [...restrictedRunFlags, "--network=host", `--volume=${certDir}:/tmp/certs`, "--env=LOG_FORMAT=json"],
      ["webhook", "--self-signed", "--cert-dir=/tmp/certs", `--port=${port}`, `--health-port=${healthPort}`],
    );
    await waitUntilReady(webhook, `http://127.0.0.1:${healthPort}/readyz`, 30_000);

    const pid = (await podman(image, ["inspect", "--format", "{{.State.Pid}}", name])).stdout.trim();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(status).toMatch(new RegExp(`^Uid:\\s+${nonroot}\\s+${nonroot}\\s+${nonroot}\\s+${nonroot}$`, "m"));
    expect(status).toMatch(/^CapEff:\s+0+$/m);

    const ca = readFileSync(join(certDir, "ca.crt"), "utf8");
    const create = fixture("deployment-create-fargate");
    const mutated = await httpsPost(port, "/mutate", create, { ca });
    expect(mutated.status).toBe(200);
    expect(mutated.json.response.uid).toBe(create.request.uid);
    expect(mutated.json.response.allowed).toBe(true);
    const patch = JSON.parse(Buffer.from(mutated.json.response.patch, "base64").toString("utf8")) as {
      path: string;
    }[];
    expect(patch.map((op) => op.path)).toContain("/spec/template/metadata/labels/compute-type");

    const update = fixture("deployment-update-to-fargate");
    const validated = await httpsPost(port, "/validate", update, { ca });
    expect(validated.status).toBe(200);
    expect(validated.json.response).toMatchObject({ uid: update.request.uid, allowed: true });

    await podman(image, ["kill", "--signal=SIGTERM", name]);
    expect(await webhook.exited).toBe(0);
    const log = readFileSync(webhook.logFile, "utf8");
    const lines = log
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg: string });
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(["admission webhook listening (HTTPS)", "stopped"]),
    );
  });

  it("writes readable log lines with LOG_FORMAT=console", async () => {
    const healthPort = await freePort();
    const webhook = container(
      "console",
      [...restrictedRunFlags, "--network=host", "--env=LOG_FORMAT=console"],
      ["webhook", "--self-signed", `--port=${await freePort()}`, `--health-port=${healthPort}`],
    );
    await waitUntilReady(webhook, `http://127.0.0.1:${healthPort}/readyz`, 30_000);
    await podman(image, ["kill", "--signal=SIGTERM", `sfo-smoke-${suffix}-console`]);
    expect(await webhook.exited).toBe(0);
    const log = readFileSync(webhook.logFile, "utf8");
    expect(log).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: admission webhook listening \(HTTPS\)$/m);
    expect(log).not.toMatch(/^\{/m);
  });
});
