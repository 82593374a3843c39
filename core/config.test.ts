import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { parseToleration } from "./settingKinds.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { SETTINGS } from "./settings.ts";

function tomlFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "config-")), "config.toml");
  writeFileSync(path, text);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("gives the documented defaults with no file and no environment", () => {
    const config = loadConfig({ env: {} });
    expect(config.kubernetes.namespaces).toEqual([]);
    expect(config.monitoring.checkInterval).toBe(5_000);
    expect(config.migration.rolloutTimeout).toBe(300_000);
    expect(config.recovery).toEqual({
      enabled: true,
      interval: 300_000,
      cooldown: 2_700_000,
      timeout: 180_000,
      backoffBase: 900_000,
      maxBackoff: 14_400_000,
      maxConcurrent: 5,
    });
    expect(config.compute.spotNodeSelector).toEqual({ "eks.amazonaws.com/capacityType": "SPOT" });
    expect(config.webhook.port).toBe(9443);
    expect(config.webhook.tlsCert).toBe("/tls/tls.crt");
    expect(config.logging).toEqual({ level: "info", format: "auto" });
  });

  it("reads every section of config.toml, and TOML false turns a default-true setting off", () => {
    const file = tomlFile(`
[kubernetes]
namespace = "shop, payments"
[monitoring]
check_interval = "2s"
[migration]
dry_run = true
rebalance_action = "migrate"
[recovery]
enabled = false
cooldown = "10m"
[compute]
spot_node_selector = { "karpenter.sh/capacity-type" = "spot" }
spot_tolerations = ["spot=true:NoSchedule"]
[aws]
region = "eu-west-1"
sqs_queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/spot"
[alerts]
enabled = false
[logging]
level = "debug"
format = "json"
`);
    const config = loadConfig({ file, env: {} });
    expect(config.kubernetes.namespaces).toEqual(["shop", "payments"]);
    expect(config.monitoring.checkInterval).toBe(2_000);
    expect(config.migration.dryRun).toBe(true);
    expect(config.migration.rebalanceAction).toBe("migrate");
    expect(config.recovery.enabled).toBe(false);
    expect(config.recovery.cooldown).toBe(600_000);
    expect(config.compute.spotNodeSelector).toEqual({ "karpenter.sh/capacity-type": "spot" });
    expect(config.compute.spotTolerations).toEqual([
      { key: "spot", operator: "Equal", value: "true", effect: "NoSchedule" },
    ]);
    expect(config.aws.region).toBe("eu-west-1");
    expect(config.alerts.enabled).toBe(false);
    expect(config.logging).toEqual({ level: "debug", format: "json" });
  });

  it("lets the environment win over the file, and flags win over the environment", () => {
    const file = tomlFile(`[recovery]\nenabled = true\ninterval = "1m"\n[webhook]\nport = 1000\n`);
    const config = loadConfig({
      file,
      env: { RECOVERY_ENABLED: "false", RECOVERY_INTERVAL: "30s", WEBHOOK_PORT: "2000" },
      flags: { "webhook.port": "3000" },
    });
    expect(config.recovery.enabled).toBe(false);
    expect(config.recovery.interval).toBe(30_000);
    expect(config.webhook.port).toBe(3000);
  });

  it("reports every bad key on a line of its own", () => {
    const file = tomlFile(`[recovery]\ninterval = "soon"\n[compute]\nspot_labl = "x"\n`);
    const problems = problemsOf(() =>
      loadConfig({
        file,
        env: {
          CHECK_INTERVAL: "5 minutes",
          ALERTS_ENABLED: "maybe",
          LOG_LEVEL: "loud",
          WEBHOOK_PORT: "70000",
        },
      }),
    );
    expect(problems).toEqual([
      "compute.spot_labl: unknown setting in config file",
      'CHECK_INTERVAL (monitoring.check_interval): "5 minutes" is not a duration; use a number with a unit, e.g. 500ms, 5s, 5m, 4h',
      'recovery.interval (RECOVERY_INTERVAL): "soon" is not a duration; use a number with a unit, e.g. 500ms, 5s, 5m, 4h',
      'ALERTS_ENABLED (alerts.enabled): "maybe" is not a boolean; use true or false',
      'LOG_LEVEL (logging.level): "loud" is not allowed; allowed values: trace, debug, info, warn, error, fatal, silent',
      "WEBHOOK_PORT (webhook.port): 70000 is not a port (1-65535)",
    ]);
  });

  it("checks each setting's own bounds, naming the variable that set it", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          KUBE_API_QPS: "0",
          CHECK_INTERVAL: "0",
          MIGRATION_CONCURRENCY: "0",
          SQS_RECEIVE_WAIT_TIME: "30s",
          QUEUE_UNREACHABLE_AFTER: "0s",
        },
      }),
    );
    expect(problems).toEqual([
      "KUBE_API_QPS (kubernetes.qps): must be at least 1",
      "CHECK_INTERVAL (monitoring.check_interval): must be more than 0",
      "MIGRATION_CONCURRENCY (migration.max_concurrent_flips): must be at least 1",
      "SQS_RECEIVE_WAIT_TIME (aws.receive_wait_time): must be at least 1s and at most 20s",
      "QUEUE_UNREACHABLE_AFTER (aws.queue_unreachable_after): must be more than 0",
    ]);
  });

  it("has one field for every setting, named after its key", () => {
    const config = loadConfig({ env: {} }) as unknown as Record<string, Record<string, unknown>>;
    const fields = SETTINGS.map((s) => {
      const [section, name] = s.key.split(".") as [string, string];
      const field = "field" in s ? s.field : name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
      return `${section}.${field}`;
    });
    const built = Object.entries(config).flatMap(([section, values]) =>
      Object.keys(values).map((field) => `${section}.${field}`),
    );
    expect(built.sort()).toEqual(fields.sort());
    expect(config["watcher"]?.["identity"]).not.toBe(""); // empty means the host name
  });

  it("requires the queue URL only for the watcher", () => {
    expect(() => loadConfig({ env: {}, process: "webhook" })).not.toThrow();
    expect(problemsOf(() => loadConfig({ env: {}, process: "watcher" }))).toEqual([
      "aws.sqs_queue_url (SQS_QUEUE_URL): is required",
    ]);
  });

  it.each([
    ["https://sqs.eu-west-1.amazonaws.com/123456789012/spot", "eu-west-1"],
    ["https://ap-southeast-2.queue.amazonaws.com/123456789012/spot", "ap-southeast-2"],
    ["https://sqs.cn-north-1.amazonaws.com.cn/123456789012/spot", "cn-north-1"],
    [
      "https://vpce-0a1b2c3d-e4f5g6h7.sqs.us-gov-west-1.vpce.amazonaws.com/123456789012/spot",
      "us-gov-west-1",
    ],
    ["http://sqs.us-east-1.localhost:9324/000000000000/spot", "us-east-1"],
    ["http://127.0.0.1:9324/000000000000/spot", ""],
  ])("takes the region from the queue URL %s when none is set", (url, region) => {
    expect(loadConfig({ env: { SQS_QUEUE_URL: url } }).aws.region).toBe(region);
  });

  it("keeps a region that matches the queue URL, or that the URL cannot contradict", () => {
    const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/spot";
    expect(loadConfig({ env: { SQS_QUEUE_URL: url, AWS_REGION: "eu-west-1" } }).aws.region).toBe("eu-west-1");
    const local = "http://127.0.0.1:9324/000000000000/spot";
    expect(loadConfig({ env: { SQS_QUEUE_URL: local, AWS_REGION: "eu-west-1" } }).aws.region).toBe(
      "eu-west-1",
    );
  });

  it("refuses a region other than the queue URL's, in one line", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/spot",
          AWS_REGION: "us-east-1",
        },
        process: "watcher",
      }),
    );
    expect(problems).toEqual([
      "aws.region (AWS_REGION): is us-east-1 but the queue https://sqs.eu-west-1.amazonaws.com/123456789012/spot is in eu-west-1: a queue is read in its own region; set eu-west-1 or leave it empty",
    ]);
  });

  it("checks settings against each other", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          RECOVERY_BACKOFF_BASE: "1h",
          RECOVERY_MAX_BACKOFF: "30m",
          MODE: "single",
          FARGATE_LABEL: "spot",
        },
      }),
    );
    expect(problems).toEqual([
      "recovery.max_backoff (RECOVERY_MAX_BACKOFF): must not be less than recovery.backoff_base",
      'compute.fargate_label (FARGATE_LABEL): must differ from compute.spot_label ("spot")',
      "kubernetes.deployment_name (DEPLOYMENT_NAME): is required when kubernetes.mode is single",
    ]);
  });

  it("keeps the on-demand compute label apart from the spot and Fargate ones", () => {
    expect(problemsOf(() => loadConfig({ env: { ON_DEMAND_LABEL: "fargate" } }))).toEqual([
      'compute.on_demand_label (ON_DEMAND_LABEL): must differ from compute.fargate_label ("fargate")',
    ]);
    expect(problemsOf(() => loadConfig({ env: { ON_DEMAND_LABEL: "spot" } }))).toEqual([
      'compute.on_demand_label (ON_DEMAND_LABEL): must differ from compute.spot_label ("spot")',
    ]);
  });

  it("reads the Fargate budget and fallback, and names what is allowed", () => {
    const config = loadConfig({
      env: { FARGATE_MAX_VCPU: "16", FARGATE_MAX_PODS: "40", FARGATE_FALLBACK: "on-demand" },
    });
    expect(config.fargate).toEqual({
      maxVcpu: 16,
      maxPods: 40,
      fallback: "on-demand",
      pendingTimeout: 90_000,
      startupTimeout: 180_000,
      expectedStartup: 60_000,
      launchRate: 20,
    });
    expect(
      problemsOf(() =>
        loadConfig({
          env: { FARGATE_FALLBACK: "ec2", FARGATE_MAX_VCPU: "-1", FARGATE_PENDING_TIMEOUT: "0s" },
        }),
      ),
    ).toEqual([
      'FARGATE_MAX_VCPU (fargate.max_vcpu): "-1" is not a whole number >= 0',
      'FARGATE_FALLBACK (fargate.fallback): "ec2" is not allowed; allowed values: none, on-demand',
      "FARGATE_PENDING_TIMEOUT (fargate.pending_timeout): must be more than 0",
    ]);
  });

  it("fails on an explicitly named config file that is missing or malformed", () => {
    expect(problemsOf(() => loadConfig({ file: "/nonexistent/config.toml", env: {} }))).toEqual([
      "config file /nonexistent/config.toml: ENOENT",
    ]);
    const problems = problemsOf(() => loadConfig({ file: tomlFile("[recovery\n"), env: {} }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^config file .*config\.toml: /);
  });

  it("has a distinct environment variable and key for every setting", () => {
    expect(new Set(SETTINGS.map((s) => s.env)).size).toBe(SETTINGS.length);
    expect(new Set(SETTINGS.map((s) => s.key)).size).toBe(SETTINGS.length);
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["5s", 5_000],
    ["5m", 300_000],
    ["4h", 14_400_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["0", 0],
  ])("parses %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "5", "5 m", "m5", "-5s", "5d", "five minutes"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/is not a duration/);
  });

  it.each([
    [300_000, "5m"],
    [5_400_000, "1h30m"],
    [45_000, "45s"],
    [250, "250ms"],
  ])("formats %d ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("parseToleration", () => {
  it.each([
    ["spot=true:NoSchedule", { key: "spot", operator: "Equal", value: "true", effect: "NoSchedule" }],
    ["spot:NoExecute", { key: "spot", operator: "Exists", effect: "NoExecute" }],
    ["spot=true", { key: "spot", operator: "Equal", value: "true" }],
    ["spot", { key: "spot", operator: "Exists" }],
  ])("parses %s", (text, toleration) => {
    expect(parseToleration(text)).toEqual(toleration);
  });

  it("names the allowed effects", () => {
    expect(() => parseToleration("spot=true:Never")).toThrow(
      'toleration "spot=true:Never": effect "Never" is not allowed; allowed values: NoSchedule, PreferNoSchedule, NoExecute',
    );
  });
});
