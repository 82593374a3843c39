// Loads config.toml and the environment (environment wins, then command-line flags) into one typed,
// validated object, parsed once at start-up. Every bad key is reported, one line each. The object's type
// and its building are derived from the settings table: a setting is declared once, there.
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import * as v from "valibot";
import type { OptInScope } from "./contract.ts";
import { regionOfQueueUrl } from "./ec2.ts";
import { toError } from "./errors.ts";
import type { Kind } from "./settingKinds.ts";
import { SETTINGS, type Process, type Setting, type SettingKey } from "./settings.ts";

type Entry = (typeof SETTINGS)[number];
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;
type SectionOf<K extends string> = K extends `${infer Section}.${string}` ? Section : never;
type FieldOf<E extends Entry> = E extends { field: infer F extends string }
  ? F
  : E["key"] extends `${string}.${infer Name}`
    ? CamelCase<Name>
    : never;
type ValueOf<E extends Entry> = E["kind"] extends Kind<infer T> ? T : never;

/** The configuration: one section per `[section]` of config.toml, one field per setting. */
export type Config = {
  [S in SectionOf<Entry["key"]>]: {
    [E in Entry as E["key"] extends `${S}.${string}` ? FieldOf<E> : never]: ValueOf<E>;
  };
};

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

const TABLE: readonly Setting<unknown>[] = SETTINGS;

/** `recovery.max_backoff (RECOVERY_MAX_BACKOFF)`: how problems name a setting. */
function settingLabel(key: SettingKey): string {
  return `${key} (${TABLE.find((s) => s.key === key)?.env})`;
}

/** The opt-in rule's scope (core/contract.ts `countsAsOptedIn`) as the settings give it. */
export function optInScopeOf(config: Pick<Config, "kubernetes">): OptInScope {
  return { namespaces: config.kubernetes.namespaces, deploymentName: config.kubernetes.deploymentName };
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const explicit = options.file !== undefined || env["CONFIG_FILE"] !== undefined;
  const file = readToml(options.file ?? env["CONFIG_FILE"], explicit, problems);
  const known = new Set(TABLE.map((s) => s.key));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) problems.push(`${key}: unknown setting in config file`);
  }

  const config: Record<string, Record<string, unknown>> = {};
  for (const setting of TABLE) {
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
    const label =
      source === setting.key || source === "default"
        ? `${setting.key} (${setting.env})`
        : source === setting.env
          ? `${setting.env} (${setting.key})`
          : source;
    const parsed = v.safeParse(setting.kind.schema, raw);
    if (!parsed.success) {
      problems.push(`${label}: ${parsed.issues[0].message}`);
      continue;
    }
    if (options.process && setting.requiredBy?.includes(options.process) && isEmpty(parsed.output)) {
      problems.push(`${label}: is required`);
      continue;
    }
    const [section, name] = setting.key.split(".") as [string, string];
    (config[section] ??= {})[setting.field ?? camelCase(name)] = parsed.output;
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const typed = config as Config;
  problems.push(...crossCheck(typed));
  if (problems.length > 0) throw new ConfigError(problems);
  typed.aws.region ||= regionOfQueueUrl(typed.aws.sqsQueueUrl) ?? "";
  return typed;
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}

function isEmpty(value: unknown): boolean {
  return value === "" || (Array.isArray(value) && value.length === 0);
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
    problems.push(`config file ${file}: ${toError(err).message.split("\n")[0]}`);
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

/** Rules between settings, each problem naming the setting to change. */
function crossCheck(config: Config): string[] {
  const { recovery, compute, kubernetes, aws } = config;
  const problems: string[] = [];
  const problem = (key: SettingKey, message: string) => problems.push(`${settingLabel(key)}: ${message}`);
  if (recovery.enabled) {
    const durations = {
      "recovery.interval": recovery.interval,
      "recovery.timeout": recovery.timeout,
      "recovery.backoff_base": recovery.backoffBase,
      "recovery.max_backoff": recovery.maxBackoff,
    } as const;
    for (const [key, value] of Object.entries(durations)) {
      if (value <= 0) problem(key as SettingKey, "must be more than 0 when recovery is enabled");
    }
    if (recovery.maxBackoff < recovery.backoffBase) {
      problem("recovery.max_backoff", "must not be less than recovery.backoff_base");
    }
    if (recovery.maxConcurrent < 1) problem("recovery.max_concurrent", "must be at least 1");
  }
  if (compute.spotLabel === compute.fargateLabel) {
    problem("compute.fargate_label", `must differ from compute.spot_label ("${compute.spotLabel}")`);
  }
  for (const [key, value] of [
    ["compute.spot_label", compute.spotLabel],
    ["compute.fargate_label", compute.fargateLabel],
  ] as const) {
    if (compute.onDemandLabel === value)
      problem("compute.on_demand_label", `must differ from ${key} ("${value}")`);
  }
  if (kubernetes.mode === "single" && kubernetes.deploymentName === "") {
    problem("kubernetes.deployment_name", "is required when kubernetes.mode is single");
  }
  const queueRegion = regionOfQueueUrl(aws.sqsQueueUrl);
  if (aws.region !== "" && queueRegion !== undefined && aws.region !== queueRegion) {
    problem(
      "aws.region",
      `is ${aws.region} but the queue ${aws.sqsQueueUrl} is in ${queueRegion}: a queue is read in its own region; set ${queueRegion} or leave it empty`,
    );
  }
  return problems;
}
