// moto's server (PyPI `moto[server]`, put on PATH by the integration setup from test/tools/python-tools.sh):
// CloudFormation, EventBridge, SQS and IAM in one process on 127.0.0.1, state in memory, driven by the real AWS
// SDK clients. It picks its own free port and prints it; its output goes to a log file that every failure names.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { waitFor } from "../../harness/cluster/wait.ts";

/** The account moto answers as. */
export const motoAccount = "123456789012";

export interface ClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface Moto {
  /** `http://127.0.0.1:<port>`: the endpoint of every service (AWS_ENDPOINT_URL_SQS for the watcher). */
  readonly endpoint: string;
  readonly region: string;
  readonly logFile: string;
  /** A new SDK client of this server, e.g. `moto.client(SQSClient)`; the caller destroys it. */
  client<T>(Client: new (config: ClientConfig) => T): T;
  stop(): Promise<void>;
}

export async function startMoto(options: { logDir: string; region: string }): Promise<Moto> {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, "moto.log");
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn("moto_server", ["--host", "127.0.0.1", "--port", "0"], {
    env: { PATH: process.env["PATH"], HOME: process.env["HOME"], NO_COLOR: "1", PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let failure: Error | undefined;
  child.on("error", (err) => {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    failure = missing
      ? new Error(
          "moto_server is not on PATH: test/tools/python-tools.sh installs it (the integration setup runs it)",
        )
      : err;
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      log.write(chunk);
    });
  }
  const exited = once(child, "close").then(() => log.end());
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };

  let port: number;
  try {
    port = await waitFor(
      `moto_server to listen (log: ${logFile})`,
      () => {
        if (failure) throw failure;
        if (child.exitCode !== null)
          throw new Error(`moto_server exited with code ${child.exitCode}: ${output}`);
        const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        return match ? Number(match[1]) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    region: options.region,
    logFile,
    client: (Client) =>
      new Client({
        region: options.region,
        endpoint,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      }),
    stop,
  };
}

/** The last lines of moto's log, for a failure message. */
export function motoLogTail(moto: Moto, lines = 40): string {
  return readFileSync(moto.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
