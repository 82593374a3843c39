// `spot-orchestrator webhook`: flags → config → HTTPS admission server + plain-HTTP probes, until a signal.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, optInScopeOf, type LoadOptions } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { waitForShutdownSignal } from "../core/signals.ts";
import { createApp } from "./app.ts";
import { startHealthServer } from "../core/healthServer.ts";
import { createMetrics } from "./metrics.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";

const USAGE = `Usage: spot-orchestrator webhook [flags]

Runs the mutating and validating admission webhook for apps/v1 Deployments:
HTTPS POST /mutate and /validate; plain HTTP /healthz, /readyz and /metrics.

Flags (each overrides its config.toml key and environment variable):
  --port N                     HTTPS port (webhook.port, WEBHOOK_PORT; default 9443)
  --health-port N              probes and metrics port (webhook.health_port; default 8080)
  --tls-cert FILE              serving certificate, reloaded on change (default /tls/tls.crt)
  --tls-key FILE               its private key, reloaded on change (default /tls/tls.key)
  --orchestrator-username NAME requester whose reason is kept (ORCHESTRATOR_USERNAME)
  --config FILE                config.toml (CONFIG_FILE)
  --self-signed                development: generate a CA and serving certificate and use them
  --cert-dir DIR               where --self-signed writes ca.crt, tls.crt, tls.key (default: a temp dir)
  --dns-name NAME              extra DNS name for the --self-signed certificate (repeatable)
  --help                       show this help
`;

const OPTIONS = {
  port: { type: "string" },
  "health-port": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "orchestrator-username": { type: "string" },
  config: { type: "string" },
  "self-signed": { type: "boolean" },
  "cert-dir": { type: "string" },
  "dns-name": { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];

export async function webhookCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const { flags, caFile } = await flagsOf(values);
  const config = loadConfig({ file: values.config, flags, process: "webhook" });
  const log = createLogger(config.logging, { component: "webhook" });
  if (caFile !== undefined) log.info({ caFile }, `self-signed CA written to ${caFile}`);
  const metrics = createMetrics({ processMetrics: true });
  const app = createApp({
    placement: config.compute,
    orchestratorUsername: config.webhook.orchestratorUsername,
    optIn: optInScopeOf(config),
    log,
    metrics,
  });

  let webhook: WebhookServer | undefined;
  const health = await startHealthServer({
    port: config.webhook.healthPort,
    registry: metrics.registry,
    isReady: () => webhook?.isReady() ?? false,
    log,
  });
  try {
    webhook = await startWebhookServer({
      app,
      port: config.webhook.port,
      certFile: config.webhook.tlsCert,
      keyFile: config.webhook.tlsKey,
      log,
      certMetrics: metrics.certificates,
    });
  } catch (err) {
    await health.close();
    throw err;
  }

  const signal = await waitForShutdownSignal();
  log.info({ signal }, "shutting down: finishing in-flight requests");
  await webhook.close();
  await health.close();
  log.info("stopped");
}

/** The flags as settings; with --self-signed, the certificate it writes (and where its CA is). */
async function flagsOf(values: Values): Promise<{ flags: LoadOptions["flags"]; caFile?: string }> {
  const flags: LoadOptions["flags"] = {
    "webhook.port": values.port,
    "webhook.health_port": values["health-port"],
    "webhook.tls_cert": values["tls-cert"],
    "webhook.tls_key": values["tls-key"],
    "webhook.orchestrator_username": values["orchestrator-username"],
  };
  if (values["self-signed"] !== true) return { flags };
  const dir = values["cert-dir"] ?? (await mkdtemp(join(tmpdir(), "spot-orchestrator-webhook-")));
  // development only: its certificate library stays out of a production process
  const { generateSelfSigned, writeCertFiles } = await import("./selfSigned.ts");
  const files = await writeCertFiles(dir, generateSelfSigned({ dnsNames: values["dns-name"] }));
  return {
    flags: { ...flags, "webhook.tls_cert": files.certFile, "webhook.tls_key": files.keyFile },
    caFile: files.caFile,
  };
}
