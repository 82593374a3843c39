// Loads config.toml and the environment (environment wins, then command-line flags) into one typed,
// validated object, parsed once at start-up. Every bad key is reported, one line each.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parse as parseToml } from "smol-toml";
import type { V1Toleration } from "@kubernetes/client-node";
import type { LevelWithSilent } from "pino";
import type { PlacementConfig } from "./placement.ts";
import type { LogFormat } from "./log.ts";
import { SETTINGS, type Process, type Setting, type SettingKey } from "./settings.ts";
import { parseDuration } from "./duration.ts";

export interface Config {
  kubernetes: {
    namespaces: string[];
    mode: "cluster" | "namespace" | "single";
    deploymentName: string;
    serviceName: string;
    qps: number;
    burst: number;
  };
  monitoring: { checkInterval: number; healthCheckRetries: number; healthCheckInterval: number };
  migration: {
    rolloutTimeout: number;
    verificationDelay: number;
    dryRun: boolean;
    rebalanceAction: "alert" | "migrate";
    maxConcurrentFlips: number;
    driftCheckInterval: number;
  };
  recovery: {
    enabled: boolean;
    interval: number;
    cooldown: number;
    timeout: number;
    backoffBase: number;
    maxBackoff: number;
    maxConcurrent: number;
  };
  compute: PlacementConfig;
  aws: { region: string; sqsQueueUrl: string; sqsEndpointUrl: string };
  alerts: { enabled: boolean; slackWebhookUrl: string; maxPerMinute: number };
  logging: { level: LevelWithSilent; format: LogFormat };
  webhook: {
    port: number;
    healthPort: number;
    tlsCert: string;
    tlsKey: string;
    orchestratorUsername: string;
  };
  watcher: {
    healthPort: number;
    leaderElection: boolean;
    leaseName: string;
    leaseNamespace: string;
    identity: string;
  };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Path of config.toml; a missing file is an error only when given explicitly. */
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Command-line values keyed by `section.key`; they win over the environment. */
  flags?: Partial<Record<SettingKey, string | undefined>>;
  /** The process starting: settings it requires must be set. */
  process?: Process;
}

type Value = string | number | boolean | string[] | Record<string, string> | V1Toleration[];

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const file = readToml(
    options.file ?? env["CONFIG_FILE"],
    options.file !== undefined || env["CONFIG_FILE"] !== undefined,
    problems,
  );
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) problems.push(`${key}: unknown setting in config file`);
  }

  const values = new Map<string, Value>();
  for (const setting of SETTINGS as readonly Setting[]) {
    const flag = options.flags?.[setting.key as SettingKey];
    const fromEnv = env[setting.env];
    const [source, raw] =
      flag !== undefined
        ? [`--${setting.key}`, flag]
        : fromEnv !== undefined
          ? [setting.env, fromEnv]
          : setting.key in file
            ? [setting.key, file[setting.key]]
            : ["default", setting.default];
    try {
      const value = convert(setting, raw);
      if (options.process && setting.requiredBy?.includes(options.process) && isEmpty(value)) {
        throw new Error("is required");
      }
      values.set(setting.key, value);
    } catch (err) {
      const label =
        source === setting.key || source === "default"
          ? `${setting.key} (${setting.env})`
          : source === setting.env
            ? `${setting.env} (${setting.key})`
            : source;
      problems.push(`${label}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const config = build((key) => values.get(key)!);
  crossCheck(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readToml(path: string | undefined, explicit: boolean, problems: string[]): Record<string, unknown> {
  const file = path ?? "config.toml";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (explicit) problems.push(`config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return {};
  }
  try {
    return flatten(parseToml(text));
  } catch (err) {
    problems.push(`config file ${file}: ${(err as Error).message.split("\n")[0]}`);
    return {};
  }
}

function flatten(table: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(table)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (prefix === "" && v !== null && typeof v === "object" && !Array.isArray(v))
      Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

function isEmpty(value: Value): boolean {
  return value === "" || (Array.isArray(value) && value.length === 0);
}

function convert(setting: Setting, raw: unknown): Value {
  const kind = setting.kind;
  if (typeof kind === "object") {
    const text = String(raw);
    if (!kind.oneOf.includes(text))
      throw new Error(`"${text}" is not allowed; allowed values: ${kind.oneOf.join(", ")}`);
    return text;
  }
  switch (kind) {
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (/^(true|1|yes|on)$/i.test(String(raw))) return true;
      if (/^(false|0|no|off)$/i.test(String(raw))) return false;
      throw new Error(`"${String(raw)}" is not a boolean; use true or false`);
    case "int":
    case "port": {
      const n = typeof raw === "number" ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`"${String(raw)}" is not a whole number >= 0`);
      if (kind === "port" && (n < 1 || n > 65535)) throw new Error(`${n} is not a port (1-65535)`);
      return n;
    }
    case "duration":
      return parseDuration(String(raw));
    case "url": {
      const text = String(raw).trim();
      if (text !== "" && !URL.canParse(text)) throw new Error(`"${text}" is not a URL`);
      return text;
    }
    case "list":
      return toList(raw);
    case "map":
      return parseMap(raw);
    case "tolerations":
      return toList(raw).map(parseToleration);
    case "string":
      if (typeof raw !== "string") throw new Error(`expected a string, got ${JSON.stringify(raw)}`);
      return raw;
  }
}

function toList(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

function parseMap(raw: unknown): Record<string, string> {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
  }
  const map: Record<string, string> = {};
  for (const pair of toList(raw)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`"${pair}" is not key=value`);
    map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return map;
}

const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/** `key=value:Effect`, `key:Effect`, `key=value` or `key` (Exists). */
export function parseToleration(text: string): V1Toleration {
  const match = /^([^=:]+)(?:=([^:]*))?(?::(\w+))?$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a toleration (key=value:Effect)`);
  const [, key, value, effect] = match;
  if (effect !== undefined && !EFFECTS.includes(effect)) {
    throw new Error(
      `toleration "${text}": effect "${effect}" is not allowed; allowed values: ${EFFECTS.join(", ")}`,
    );
  }
  const toleration: V1Toleration =
    value === undefined ? { key: key!, operator: "Exists" } : { key: key!, operator: "Equal", value };
  if (effect !== undefined) toleration.effect = effect;
  return toleration;
}

function build(get: (key: SettingKey) => Value): Config {
  const s = (key: SettingKey) => get(key) as string;
  const n = (key: SettingKey) => get(key) as number;
  const b = (key: SettingKey) => get(key) as boolean;
  return {
    kubernetes: {
      namespaces: get("kubernetes.namespace") as string[],
      mode: s("kubernetes.mode") as Config["kubernetes"]["mode"],
      deploymentName: s("kubernetes.deployment_name"),
      serviceName: s("kubernetes.service_name"),
      qps: n("kubernetes.qps"),
      burst: n("kubernetes.burst"),
    },
    monitoring: {
      checkInterval: n("monitoring.check_interval"),
      healthCheckRetries: n("monitoring.health_check_retries"),
      healthCheckInterval: n("monitoring.health_check_interval"),
    },
    migration: {
      rolloutTimeout: n("migration.rollout_timeout"),
      verificationDelay: n("migration.verification_delay"),
      dryRun: b("migration.dry_run"),
      rebalanceAction: s("migration.rebalance_action") as Config["migration"]["rebalanceAction"],
      maxConcurrentFlips: n("migration.max_concurrent_flips"),
      driftCheckInterval: n("migration.drift_check_interval"),
    },
    recovery: {
      enabled: b("recovery.enabled"),
      interval: n("recovery.interval"),
      cooldown: n("recovery.cooldown"),
      timeout: n("recovery.timeout"),
      backoffBase: n("recovery.backoff_base"),
      maxBackoff: n("recovery.max_backoff"),
      maxConcurrent: n("recovery.max_concurrent"),
    },
    compute: {
      computeLabelKey: s("compute.compute_label_key"),
      spotLabel: s("compute.spot_label"),
      fargateLabel: s("compute.fargate_label"),
      spotNodeSelector: get("compute.spot_node_selector") as Record<string, string>,
      spotTolerations: get("compute.spot_tolerations") as V1Toleration[],
      fargateNodeSelector: get("compute.fargate_node_selector") as Record<string, string>,
    },
    aws: {
      region: s("aws.region"),
      sqsQueueUrl: s("aws.sqs_queue_url"),
      sqsEndpointUrl: s("aws.sqs_endpoint_url"),
    },
    alerts: {
      enabled: b("alerts.enabled"),
      slackWebhookUrl: s("alerts.slack_webhook_url"),
      maxPerMinute: n("alerts.max_per_minute"),
    },
    logging: { level: s("logging.level") as LevelWithSilent, format: s("logging.format") as LogFormat },
    webhook: {
      port: n("webhook.port"),
      healthPort: n("webhook.health_port"),
      tlsCert: s("webhook.tls_cert"),
      tlsKey: s("webhook.tls_key"),
      orchestratorUsername: s("webhook.orchestrator_username"),
    },
    watcher: {
      healthPort: n("watcher.health_port"),
      leaderElection: b("watcher.leader_election"),
      leaseName: s("watcher.lease_name"),
      leaseNamespace: s("watcher.lease_namespace"),
      identity: s("watcher.identity") || hostname(),
    },
  };
}

function crossCheck(config: Config, problems: string[]): void {
  const { recovery, compute, kubernetes } = config;
  if (recovery.enabled) {
    for (const key of ["interval", "timeout", "backoff_base", "max_backoff"] as const) {
      const value =
        recovery[key === "backoff_base" ? "backoffBase" : key === "max_backoff" ? "maxBackoff" : key];
      if (value <= 0) problems.push(`recovery.${key}: must be more than 0 when recovery is enabled`);
    }
    if (recovery.maxBackoff < recovery.backoffBase) {
      problems.push(
        `recovery.max_backoff (RECOVERY_MAX_BACKOFF): must not be less than recovery.backoff_base`,
      );
    }
    if (recovery.maxConcurrent < 1)
      problems.push(`recovery.max_concurrent (RECOVERY_MAX_CONCURRENT): must be at least 1`);
  }
  if (config.monitoring.checkInterval <= 0)
    problems.push("monitoring.check_interval (CHECK_INTERVAL): must be more than 0");
  if (config.migration.rolloutTimeout <= 0)
    problems.push("migration.rollout_timeout (ROLLOUT_TIMEOUT): must be more than 0");
  if (config.migration.maxConcurrentFlips < 1)
    problems.push("migration.max_concurrent_flips (MIGRATION_CONCURRENCY): must be at least 1");
  if (config.kubernetes.qps < 1) problems.push("kubernetes.qps (KUBE_API_QPS): must be at least 1");
  if (compute.spotLabel === compute.fargateLabel) {
    problems.push(
      `compute.fargate_label (FARGATE_LABEL): must differ from compute.spot_label ("${compute.spotLabel}")`,
    );
  }
  if (kubernetes.mode === "single" && kubernetes.deploymentName === "") {
    problems.push("kubernetes.deployment_name (DEPLOYMENT_NAME): is required when kubernetes.mode is single");
  }
}
