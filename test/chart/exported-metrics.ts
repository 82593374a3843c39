// Which series the orchestrator really exports, read from the webhook's and the watcher's own prom-client
// registries, and a check of PromQL expressions against them: each expression is parsed by Prometheus's own
// parser (the promql-selectors Go test tool), and every series it selects must be one of those, with label
// names the metric has and label values it can carry.
import type { MetricObjectWithValues, MetricValue, Registry } from "prom-client";
import { createWatcherMetrics } from "../../watcher/metrics.ts";
import { createMetrics } from "../../webhook/metrics.ts";
import { runCommand } from "../../harness/cluster/command.ts";

/** Labels the scrape adds to every series (Prometheus Operator's ServiceMonitor), besides the metric's own. */
export const TARGET_LABELS = ["namespace", "pod", "job", "instance", "service", "endpoint", "container"];

/**
 * Labels whose values are not all started at 0, so the values seen are not all it takes: the outcomes of
 * received events include every kind of permanent error.
 */
const OPEN_LABELS: Record<string, string[]> = {
  spot_orchestrator_events_received_total: ["result"],
};

export interface ExportedSeries {
  labelNames: Set<string>;
  /** Values each label is known to take: those of the series the process starts with (at 0). */
  labelValues: Map<string, Set<string>>;
}

/** Exported series names (histograms as their _bucket, _sum and _count) → what is known of their labels. */
export async function exportedSeries(): Promise<Map<string, ExportedSeries>> {
  const registries: Registry[] = [
    createMetrics({ processMetrics: true }).registry,
    createWatcherMetrics().registry,
  ];
  const series = new Map<string, ExportedSeries>();
  for (const registry of registries) {
    for (const metric of await registry.getMetricsAsJSON()) {
      const { name, type, values } = metric as MetricObjectWithValues<MetricValue<string>>;
      // prom-client keeps a metric's label names on it without typing them
      const declared = registry.getSingleMetric(name) as { labelNames?: string[] } | undefined;
      const labelNames = new Set<string>(declared?.labelNames ?? []);
      const histogram = String(type) === "histogram";
      const names = histogram ? ["_bucket", "_sum", "_count"].map((s) => name + s) : [name];
      for (const seriesName of names) {
        const own = new Set(labelNames);
        if (histogram && seriesName.endsWith("_bucket")) own.add("le");
        series.set(seriesName, { labelNames: own, labelValues: new Map() });
      }
      for (const value of values) {
        const entry = series.get((value as { metricName?: string }).metricName ?? name);
        for (const [label, v] of Object.entries(value.labels)) {
          const known = entry?.labelValues.get(label) ?? new Set<string>();
          known.add(String(v));
          entry?.labelValues.set(label, known);
        }
      }
    }
  }
  return series;
}

export interface Matcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

export type ParsedExpression = { selectors: Matcher[][]; error?: undefined } | { error: string };

/** Parses each expression with Prometheus's parser; the selectors of each, or its parse error. */
export async function parsePromql(expressions: readonly string[]): Promise<ParsedExpression[]> {
  const result = await runCommand("promql-selectors", [], { input: JSON.stringify(expressions) });
  if (result.code !== 0) throw new Error(`promql-selectors failed (${result.code}): ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { selectors?: Matcher[][]; error?: string }[];
  return parsed.map((p) => (p.error !== undefined ? { error: p.error } : { selectors: p.selectors ?? [] }));
}

/** What is wrong with the series an expression selects; empty when each one is exported as selected. */
export function selectorProblems(selectors: Matcher[][], exported: Map<string, ExportedSeries>): string[] {
  const problems: string[] = [];
  for (const matchers of selectors) {
    const name = matchers.find((m) => m.label === "__name__" && m.op === "=")?.value;
    if (name === undefined) {
      problems.push(`a selector without a metric name: {${matchers.map(show).join(", ")}}`);
      continue;
    }
    const series = exported.get(name);
    if (series === undefined) {
      problems.push(`${name} is not exported`);
      continue;
    }
    for (const m of matchers) {
      if (m.label === "__name__" || TARGET_LABELS.includes(m.label)) continue;
      if (!series.labelNames.has(m.label)) {
        problems.push(`${name} has no label ${m.label}`);
        continue;
      }
      const known = series.labelValues.get(m.label);
      if (OPEN_LABELS[name]?.includes(m.label)) continue;
      if (known !== undefined && ![...known].some((v) => matches(m, v))) {
        problems.push(`${name}{${show(m)}} selects none of its ${m.label} values (${[...known].join(", ")})`);
      }
    }
  }
  return problems;
}

function matches(m: Matcher, value: string): boolean {
  switch (m.op) {
    case "=":
      return value === m.value;
    case "!=":
      return value !== m.value;
    case "=~":
      return new RegExp(`^(?:${m.value})$`).test(value);
    case "!~":
      return !new RegExp(`^(?:${m.value})$`).test(value);
  }
}

const show = (m: Matcher) => `${m.label}${m.op}${JSON.stringify(m.value)}`;
