// The two servers the webhook benchmark loads, each its own process started as the image starts it: the real
// `spot-orchestrator webhook`, and the floor (a bare HTTPS server). Start-up is timed from the spawn to
// serving: the webhook's /readyz answering 200, the floor's first HTTPS answer.
import { request } from "node:https";
import { fileURLToPath } from "node:url";
import {
  freePort,
  spawnLogged,
  startOrchestrator,
  type OrchestratorProcess,
} from "../../harness/stack/process.ts";
import type { CertFiles } from "../../webhook/selfSigned.ts";
import { pollUntil } from "../interruption/pollUntil.ts";

export type TargetName = "webhook" | "floor";

export interface Target {
  name: TargetName;
  port: number;
  pid: number;
  /** Milliseconds from the spawn to serving. */
  startMs: number;
  process: OrchestratorProcess;
}

export interface StartOptions {
  tls: CertFiles;
  env: Record<string, string>;
  logDir: string;
}

const floorServer = fileURLToPath(new URL("./floorServer.ts", import.meta.url));

export async function startTarget(name: TargetName, options: StartOptions): Promise<Target> {
  const { tls, env, logDir } = options;
  const port = await freePort();
  const started = performance.now();
  let serving: () => Promise<boolean>;
  let child: OrchestratorProcess;
  if (name === "webhook") {
    const healthPort = await freePort();
    const args = ["webhook", "--tls-cert", tls.certFile, "--tls-key", tls.keyFile];
    const flags = ["--port", `${port}`, "--health-port", `${healthPort}`];
    child = startOrchestrator("webhook", [...args, ...flags], { env, logDir });
    serving = () =>
      fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
        (res) => res.ok,
        () => false,
      );
  } else {
    const processEnv = { PATH: process.env["PATH"], HOME: process.env["HOME"], ...env };
    const args = [floorServer, tls.certFile, tls.keyFile, `${port}`];
    child = spawnLogged("floor", process.execPath, args, { env: processEnv, logDir });
    serving = () => answers(port);
  }
  let exited: number | null | undefined;
  void child.exited.then((code) => (exited = code));
  await pollUntil(
    `the ${name} to serve`,
    async () => {
      if (exited !== undefined) throw new Error(`the ${name} exited with ${exited}; see ${child.logFile}`);
      return serving();
    },
    { timeoutMs: 30_000, intervalMs: 5 },
  );
  const startMs = performance.now() - started;
  const pid = child.child.pid;
  if (pid === undefined) throw new Error(`the ${name} has no pid`);
  return { name, port, pid, startMs, process: child };
}

/** Whether an HTTPS request to the port gets an answer (of any status). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", method: "POST", rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        resolve(true);
      },
    );
    req.setTimeout(1_000, () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
