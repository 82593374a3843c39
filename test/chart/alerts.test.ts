// The chart's PrometheusRule, rendered the way a user installs it and checked with Prometheus's own promtool:
// the rules load (`promtool check rules`), each alert fires on synthetic series where it should and stays
// silent where it should not (`promtool test rules`), and every series an expression selects is one the
// orchestrator really exports.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../harness/cluster/command.ts";
import { exportedSeries, parsePromql, selectorProblems } from "./exported-metrics.ts";
import { chartDir, one, releaseNamespace, render, type KubeObject } from "./helm.ts";

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
type RuleGroup = { name: string; rules: Rule[] };

const scratch = mkdtempSync(join(tmpdir(), "sfo-alerts-"));
const ns = releaseNamespace;

/** A series as promtool's input_series takes it: `name{labels}` and values in its expanding notation. */
interface Series {
  series: string;
  values: string;
}
const s = (name: string, labels: Record<string, string>, values: string): Series => ({
  series: `${name}{${Object.entries({ namespace: ns, job: "sfo-spot-fargate-orchestrator", ...labels })
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`,
  values,
});

interface Case {
  /** Series interval (default 1m). */
  interval?: string;
  series: Series[];
  at: string;
}
interface AlertCases {
  /** The series it fires on, when, and with which labels (besides severity) and summary. */
  fires: Case & { labels?: Record<string, string>; summary: string };
  /** Situations it must stay silent in. */
  silent: Record<string, Case>;
}

const leader = (pod: string, values: string) => s("spot_orchestrator_is_leader", { pod }, values);
const counter = (name: string, labels: Record<string, string>, values: string) =>
  s(`spot_orchestrator_${name}`, { pod: "a", ...labels }, values);

/** Every alert of the chart, with what must and must not fire it. */
const cases: Record<string, AlertCases> = {
  SpotOrchestratorNoLeader: {
    fires: {
      series: [leader("a", "1x5 0x20"), leader("b", "0x25")],
      at: "15m",
      summary: "No spot-fargate-orchestrator watcher is leading",
    },
    silent: {
      "a hand-over with a gap shorter than the wait": {
        series: [leader("a", "1x10 0x20"), leader("b", "0x12 1x18")],
        at: "20m",
      },
      "before the wait is over": { series: [leader("a", "1x5 0x20"), leader("b", "0x25")], at: "9m" },
    },
  },
  SpotOrchestratorSeveralLeaders: {
    fires: {
      series: [leader("a", "1x20"), leader("b", "1x20")],
      at: "10m",
      summary: "2 spot-fargate-orchestrator watchers lead at once",
    },
    silent: {
      "two leaders for a moment during a hand-over": {
        series: [leader("a", "1x10 0x10"), leader("b", "0x8 1x12")],
        at: "15m",
      },
    },
  },
  SpotOrchestratorSqsReceiveFailing: {
    fires: {
      series: [counter("sqs_errors_total", { operation: "receive" }, "0 0 2+2x20")],
      at: "10m",
      summary: "The watcher cannot receive from its SQS queue",
    },
    silent: {
      "one failed receive": {
        series: [counter("sqs_errors_total", { operation: "receive" }, "0x5 1x20")],
        at: "20m",
      },
      "while it has failed for less than the wait": {
        series: [counter("sqs_errors_total", { operation: "receive" }, "0x5 1+2x20")],
        at: "9m",
      },
      "failed deletes": {
        series: [counter("sqs_errors_total", { operation: "delete" }, "0+2x20")],
        at: "20m",
      },
    },
  },
  SpotOrchestratorQueueUnreachable: {
    fires: {
      series: [
        s("spot_orchestrator_queue_unreachable", { pod: "a" }, "0x5 1x20"),
        s("spot_orchestrator_queue_unreachable", { pod: "b" }, "0x25"),
      ],
      at: "10m",
      summary: "The leading watcher cannot read its SQS queue",
    },
    silent: {
      "a queue reachable again within the wait": {
        series: [s("spot_orchestrator_queue_unreachable", { pod: "a" }, "0x5 1 0x20")],
        at: "10m",
      },
      "standby replicas, which do not read the queue": {
        series: [
          s("spot_orchestrator_queue_unreachable", { pod: "a" }, "0x25"),
          s("spot_orchestrator_queue_unreachable", { pod: "b" }, "0x25"),
        ],
        at: "10m",
      },
    },
  },
  SpotOrchestratorSqsWritesFailing: {
    fires: {
      series: [counter("sqs_errors_total", { operation: "delete" }, "0+1x30")],
      at: "20m",
      labels: { operation: "delete" },
      summary: "SQS delete calls of the watcher fail",
    },
    silent: {
      "failed receives": {
        series: [counter("sqs_errors_total", { operation: "receive" }, "0+1x30")],
        at: "20m",
      },
      "one failed delete": {
        series: [counter("sqs_errors_total", { operation: "delete" }, "0x5 1x30")],
        at: "20m",
      },
    },
  },
  SpotOrchestratorEventHandlingErrors: {
    fires: {
      series: [counter("events_received_total", { type: "spot-interruption", result: "error" }, "0x5 1x20")],
      at: "7m",
      labels: { type: "spot-interruption" },
      summary: "Handling spot-interruption events failed unexpectedly",
    },
    silent: {
      "events handled": {
        series: [
          counter("events_received_total", { type: "spot-interruption", result: "handled" }, "0+1x20"),
        ],
        at: "10m",
      },
      "an error longer ago than the window": {
        series: [
          counter("events_received_total", { type: "spot-interruption", result: "error" }, "0x5 1x30"),
        ],
        at: "25m",
      },
    },
  },
  SpotOrchestratorEventsGivenUp: {
    fires: {
      series: [
        counter("events_received_total", { type: "spot-interruption", result: "given-up" }, "0x5 1x20"),
      ],
      at: "7m",
      labels: { type: "spot-interruption" },
      summary: "The watcher gave up on spot-interruption events",
    },
    silent: {
      "events retried and handled": {
        series: [
          counter("events_received_total", { type: "spot-interruption", result: "retry" }, "0x5 2x20"),
          counter("events_received_total", { type: "spot-interruption", result: "handled" }, "0x6 1x20"),
        ],
        at: "10m",
      },
      "a given-up event longer ago than the window": {
        series: [
          counter("events_received_total", { type: "asg-termination", result: "given-up" }, "0x5 1x90"),
        ],
        at: "80m",
      },
    },
  },
  SpotOrchestratorMigrationFailed: {
    fires: {
      series: [counter("rollouts_total", { compute: "on-demand", result: "failed" }, "0x5 1x20")],
      at: "6m",
      labels: { compute: "on-demand" },
      summary: "A move to on-demand did not become healthy",
    },
    silent: {
      "moves to Fargate that became healthy": {
        series: [counter("rollouts_total", { compute: "fargate", result: "healthy" }, "0+1x20")],
        at: "10m",
      },
      "a failed recovery to spot": {
        series: [counter("rollouts_total", { compute: "spot", result: "failed" }, "0x5 1x20")],
        at: "10m",
      },
    },
  },
  SpotOrchestratorDeploymentsNotMoved: {
    fires: {
      series: [counter("deployments_skipped_total", { why: "fargate-incompatible" }, "0x3 2x20")],
      at: "5m",
      labels: { why: "fargate-incompatible" },
      summary: "Deployments on an interrupted node were not moved (fargate-incompatible)",
    },
    silent: {
      "Deployments already on Fargate, or only alerted on": {
        series: [
          counter("deployments_skipped_total", { why: "already-fargate" }, "0+1x20"),
          counter("deployments_skipped_total", { why: "rebalance-alert" }, "0+1x20"),
          counter("deployments_skipped_total", { why: "dry-run" }, "0+1x20"),
        ],
        at: "10m",
      },
    },
  },
  SpotOrchestratorRecoveriesRollingBack: {
    fires: {
      series: [counter("recoveries_total", { result: "rolled-back" }, "0x5 1x10 2x10 3x40")],
      at: "30m",
      summary: "Recoveries to spot keep rolling back",
    },
    silent: {
      "two rollbacks in the window": {
        series: [counter("recoveries_total", { result: "rolled-back" }, "0x5 1x10 2x60")],
        at: "60m",
      },
      "three rollbacks hours apart": {
        interval: "30m",
        series: [counter("recoveries_total", { result: "rolled-back" }, "0 0 0 1 1 1 2 2 2 3 3")],
        at: "300m",
      },
      "recoveries that succeeded": {
        series: [counter("recoveries_total", { result: "recovered" }, "0+1x60")],
        at: "60m",
      },
    },
  },
  SpotOrchestratorLongStintOffSpot: {
    fires: {
      interval: "1h",
      series: [stint("spot-interruption")],
      at: "25h",
      labels: { deployment: "team-a/web", compute: "fargate", reason: "spot-interruption" },
      summary: "team-a/web has been on fargate for over 24h",
    },
    silent: {
      "less than a day": { interval: "1h", series: [stint("spot-interruption")], at: "23h" },
      "a person's move": { interval: "1h", series: [stint("manual")], at: "25h" },
    },
  },
  SpotOrchestratorWebhookErrors: {
    fires: {
      series: [
        counter("webhook_requests_total", { endpoint: "mutate", result: "patched" }, "0+100x30"),
        counter("webhook_requests_total", { endpoint: "mutate", result: "error" }, "0+10x30"),
      ],
      at: "20m",
      summary: "The admission webhook fails 9.091% of its requests",
    },
    silent: {
      "one error in a hundred": {
        series: [
          counter("webhook_requests_total", { endpoint: "mutate", result: "patched" }, "0+100x30"),
          counter("webhook_requests_total", { endpoint: "mutate", result: "error" }, "0+1x30"),
        ],
        at: "20m",
      },
      "no requests": {
        series: [counter("webhook_requests_total", { endpoint: "mutate", result: "error" }, "0x30")],
        at: "20m",
      },
    },
  },
  SpotOrchestratorWebhookSlow: {
    fires: {
      series: latency({ "0.005": 0, "0.25": 0, "1": 10, "+Inf": 10 }),
      at: "20m",
      summary: "The admission webhook answers slowly",
    },
    silent: {
      "fast answers": { series: latency({ "0.005": 10, "0.25": 10, "1": 10, "+Inf": 10 }), at: "20m" },
      "no requests": { series: latency({ "0.005": 0, "0.25": 0, "1": 0, "+Inf": 0 }), at: "20m" },
    },
  },
  SpotOrchestratorPlacementRepaired: {
    fires: {
      series: [counter("drift_repairs_total", {}, "0x5 1x30")],
      at: "10m",
      summary: "The watcher repaired Deployments the webhook did not place",
    },
    silent: { "no repairs": { series: [counter("drift_repairs_total", {}, "0x40")], at: "30m" } },
  },
  SpotOrchestratorComputeInGit: {
    fires: {
      series: [counter("webhook_apply_guard_total", { action: "kept" }, "0x5 1x30")],
      at: "10m",
      labels: { action: "kept" },
      summary: "An apply sets spot-orchestrator.io/compute (kept)",
    },
    silent: {
      "no apply declaring it": {
        series: [
          counter("webhook_apply_guard_total", { action: "kept" }, "0x40"),
          counter("webhook_apply_guard_total", { action: "warned" }, "0x40"),
        ],
        at: "30m",
      },
    },
  },
  SpotOrchestratorFargateBudgetExceeded: {
    fires: {
      series: [counter("fargate_budget_exceeded_total", {}, "0x5 2x20")],
      at: "10m",
      summary: "Deployments of an interruption did not fit the Fargate budget",
    },
    silent: {
      "every Deployment fitting": {
        series: [counter("fargate_budget_exceeded_total", {}, "0x40")],
        at: "30m",
      },
    },
  },
  SpotOrchestratorFargateBudgetNearlyUsed: {
    fires: {
      series: [budget("used", "vcpu", "19x30"), budget("limit", "vcpu", "20x30")],
      at: "20m",
      labels: { resource: "vcpu" },
      summary: "The Fargate budget is 95% used (vcpu)",
    },
    silent: {
      "half used": { series: [budget("used", "vcpu", "10x30"), budget("limit", "vcpu", "20x30")], at: "20m" },
      "no limit set": { series: [budget("used", "vcpu", "19x30")], at: "20m" },
      "nearly used for less than the wait": {
        series: [budget("used", "pods", "10x10 19x5 10x20"), budget("limit", "pods", "20x40")],
        at: "25m",
      },
    },
  },
  SpotOrchestratorSlackAlertsFailing: {
    fires: {
      series: [counter("alerts_total", { result: "dropped" }, "0x5 3x20")],
      at: "10m",
      labels: { result: "dropped" },
      summary: "Slack messages of the orchestrator are lost (dropped)",
    },
    silent: {
      "messages sent": { series: [counter("alerts_total", { result: "sent" }, "0+5x20")], at: "10m" },
    },
  },
  SpotOrchestratorLifecycleActionsFailing: {
    fires: {
      series: [counter("lifecycle_actions_total", { result: "failed" }, "0x5 1x20")],
      at: "10m",
      summary: "The watcher could not complete Auto Scaling lifecycle actions",
    },
    silent: {
      "actions completed or expired": {
        series: [
          counter("lifecycle_actions_total", { result: "completed" }, "0+1x20"),
          counter("lifecycle_actions_total", { result: "expired" }, "0x5 1x15"),
        ],
        at: "10m",
      },
    },
  },
  SpotOrchestratorApplyReverted: {
    fires: {
      series: [counter("apply_guard_restored_total", { compute: "fargate" }, "0x5 1x30")],
      at: "10m",
      labels: { compute: "fargate" },
      summary: "An apply moved Deployments kept on fargate back to spot while the webhook was down",
    },
    silent: {
      "no apply while the webhook was down": {
        series: [counter("apply_guard_restored_total", { compute: "fargate" }, "0x40")],
        at: "30m",
      },
    },
  },
  SpotOrchestratorMoveMissedDeadline: {
    fires: {
      series: [
        counter(
          "move_deadline_total",
          { compute: "fargate", reason: "spot-interruption", result: "missed" },
          "0x5 1x20",
        ),
      ],
      at: "10m",
      labels: { compute: "fargate", reason: "spot-interruption" },
      summary: "Moves to fargate were Ready after their node's deadline",
    },
    silent: {
      "moves that met their deadline": {
        series: [
          counter(
            "move_deadline_total",
            { compute: "fargate", reason: "spot-interruption", result: "met" },
            "0+1x20",
          ),
          counter(
            "move_deadline_total",
            { compute: "fargate", reason: "spot-interruption", result: "missed" },
            "0x20",
          ),
        ],
        at: "10m",
      },
      "a miss older than the window": {
        series: [
          counter(
            "move_deadline_total",
            { compute: "fargate", reason: "spot-interruption", result: "missed" },
            "0x5 1x60",
          ),
        ],
        at: "50m",
      },
    },
  },
};

/** team-a/web on Fargate since the epoch (promtool's time 0), moved for `reason`. */
function stint(reason: string): Series {
  const labels = { deployment: "team-a/web", compute: "fargate", reason };
  return s("spot_orchestrator_off_spot_since_timestamp_seconds", labels, "0x30");
}

/** A Fargate budget gauge of the leader: `used` or `limit` of `resource`. */
function budget(gauge: "used" | "limit", resource: string, values: string): Series {
  return s(`spot_orchestrator_fargate_budget_${gauge}`, { pod: "a", resource }, values);
}

/** Admission latency buckets of `mutate`, each growing by `perMinute` requests a minute. */
function latency(perMinute: Record<string, number>): Series[] {
  return Object.entries(perMinute).map(([le, n]) =>
    s(
      "spot_orchestrator_webhook_request_duration_seconds_bucket",
      { pod: "a", endpoint: "mutate", le },
      `0+${n}x30`,
    ),
  );
}

let groups: RuleGroup[];
let rules: Rule[];
let rulesFile: string;

beforeAll(async () => {
  const objects = await render({ prometheusRule: { enabled: true } });
  groups = (one(objects, "PrometheusRule") as KubeObject & { spec: { groups: RuleGroup[] } }).spec.groups;
  rules = groups.flatMap((g) => g.rules);
  // promtool test rules compares every annotation: the tests name the summaries, so descriptions are left out
  // here (`promtool check rules` below checks them in full).
  rulesFile = writeYaml("rules.yaml", {
    groups: groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({ ...r, annotations: { summary: r.annotations.summary } })),
    })),
  });
});

function writeYaml(name: string, value: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, stringify(value));
  return file;
}

/** Runs `promtool test rules` on one test group; promtool's complaint when it fails. */
async function promtoolTest(name: string, testCase: Case, expAlerts: object[], alertname: string) {
  const file = writeYaml(`${name.replace(/\W+/g, "-")}.test.yaml`, {
    rule_files: [rulesFile],
    evaluation_interval: testCase.interval ?? "1m",
    tests: [
      {
        name,
        interval: testCase.interval ?? "1m",
        input_series: testCase.series,
        alert_rule_test: [{ eval_time: testCase.at, alertname, exp_alerts: expAlerts }],
      },
    ],
  });
  const result = await runCommand("promtool", ["test", "rules", file]);
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}

describe("the PrometheusRule", () => {
  it("loads in Prometheus: promtool check rules", async () => {
    const file = writeYaml("rules-full.yaml", { groups });
    const result = await runCommand("promtool", ["check", "rules", file]);
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.code).toBe(0);
  });

  it("has the alerts this test knows, each with a severity, a summary and a description", () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(Object.keys(cases).sort());
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(critical|warning|info)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description?.length, rule.alert).toBeGreaterThan(80);
    }
  });

  it("selects only series the orchestrator exports, by labels they have and values they take", async () => {
    const exported = await exportedSeries();
    const parsed = await parsePromql(rules.map((r) => r.expr));
    const problems = parsed.flatMap((p, i) => {
      const name = rules[i]!.alert;
      if (p.error !== undefined) return [`${name}: ${p.error}`];
      return selectorProblems(p.selectors, exported).map((problem) => `${name}: ${problem}`);
    });
    expect(problems).toEqual([]);
  });

  describe.each(Object.entries(cases))("%s", (alertname, { fires, silent }) => {
    const severity = () => rules.find((r) => r.alert === alertname)!.labels.severity!;

    it("fires where it should, with its labels and summary", async () => {
      const expected = {
        exp_labels: { severity: severity(), namespace: ns, ...fires.labels },
        exp_annotations: { summary: fires.summary },
      };
      const { code, output } = await promtoolTest(`${alertname} fires`, fires, [expected], alertname);
      expect(output).toContain("SUCCESS");
      expect(code).toBe(0);
    });

    it.each(Object.entries(silent))("stays silent: %s", async (situation, testCase) => {
      const { code, output } = await promtoolTest(
        `${alertname} silent: ${situation}`,
        testCase,
        [],
        alertname,
      );
      expect(output).toContain("SUCCESS");
      expect(code).toBe(0);
    });

    it("stays silent on another release's series", async () => {
      const elsewhere = fires.series.map((series) => ({
        ...series,
        series: series.series.replace(`namespace="${ns}"`, 'namespace="elsewhere"'),
      }));
      // With no series of its own release at all, only the missing leader is news.
      const expected =
        alertname === "SpotOrchestratorNoLeader"
          ? [
              {
                exp_labels: { severity: severity(), namespace: ns },
                exp_annotations: { summary: fires.summary },
              },
            ]
          : [];
      const testCase = { ...fires, series: elsewhere };
      const { code, output } = await promtoolTest(`${alertname} elsewhere`, testCase, expected, alertname);
      expect(output).toContain("SUCCESS");
      expect(code).toBe(0);
    });
  });

  it("is documented alert by alert in the chart README, with its values key and defaults", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const values = parseYaml(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
      prometheusRule: { alerts: Record<string, Record<string, unknown>> };
    };
    const rows = new Map(
      [...readme.matchAll(/^\| `(SpotOrchestrator\w+)` \| `(\w+)`: (.*?) \| (\w+) \|/gm)].map((m) => [
        m[1]!,
        { key: m[2]!, defaults: m[3]!, severity: m[4]! },
      ]),
    );
    expect([...rows.keys()].sort()).toEqual(rules.map((r) => r.alert).sort());
    expect([...rows.values()].map((r) => r.key).sort()).toEqual(
      Object.keys(values.prometheusRule.alerts).sort(),
    );
    for (const [alert, row] of rows) {
      const { enabled: _enabled, severity, ...settings } = values.prometheusRule.alerts[row.key]!;
      expect(row.severity, alert).toBe(severity);
      const documented = Object.entries(settings).map(([k, v]) => `\`${k}: ${String(v)}\``);
      expect(row.defaults, alert).toBe(documented.join(", "));
    }
  });

  it("is not rendered by default, and leaves out disabled alerts", async () => {
    expect((await render()).filter((o) => o.kind === "PrometheusRule")).toEqual([]);
    const objects = await render({
      prometheusRule: {
        enabled: true,
        alerts: { noLeader: { enabled: false }, slackFailing: { enabled: false } },
      },
    });
    const names = (
      one(objects, "PrometheusRule") as KubeObject & { spec: { groups: RuleGroup[] } }
    ).spec.groups
      .flatMap((g) => g.rules)
      .map((r) => r.alert);
    expect(names).not.toContain("SpotOrchestratorNoLeader");
    expect(names).not.toContain("SpotOrchestratorSlackAlertsFailing");
    expect(names).toHaveLength(Object.keys(cases).length - 2);
  });

  it("takes thresholds, durations, labels and the metric selector from values", async () => {
    const objects = await render({
      prometheusRule: {
        enabled: true,
        labels: { release: "prometheus" },
        metricSelector: 'job="spot"',
        alertLabels: { team: "platform" },
        alerts: {
          noLeader: { for: "2m", severity: "page" },
          recoveryRollbacks: { window: "3h", threshold: 5 },
          offSpotStint: { maxHours: 6 },
          webhookLatency: { quantile: 0.9, seconds: 0.2 },
        },
      },
    });
    const rule = one(objects, "PrometheusRule") as KubeObject & { spec: { groups: RuleGroup[] } };
    expect(rule.metadata.labels?.release).toBe("prometheus");
    const byName = new Map(rule.spec.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect(byName.get("SpotOrchestratorNoLeader")).toMatchObject({
      for: "2m",
      labels: { severity: "page", team: "platform" },
    });
    expect(byName.get("SpotOrchestratorNoLeader")!.expr).toContain(
      'spot_orchestrator_is_leader{ job="spot" }',
    );
    expect(byName.get("SpotOrchestratorRecoveriesRollingBack")!.expr).toMatch(/\[3h\]\)\) >= 5$/);
    expect(byName.get("SpotOrchestratorLongStintOffSpot")!.expr).toMatch(/> 21600$/);
    expect(byName.get("SpotOrchestratorWebhookSlow")!.expr).toMatch(
      /^histogram_quantile\(0\.9,[\s\S]*\) > 0\.2$/,
    );
  });
});
