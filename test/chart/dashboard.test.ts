// The chart's Grafana dashboard, as the ConfigMap Grafana's dashboard sidecar picks up: every query parses with
// Prometheus's own parser and names only series the orchestrator exports, the panels tile the grid, and the
// chart README lists every panel.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { exportedSeries, parsePromql, selectorProblems } from "./exported-metrics.ts";
import { chartDir, releaseNamespace, render, type KubeObject } from "./helm.ts";

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const DASHBOARD_KEY = "spot-fargate-orchestrator.json";

/** What Grafana puts in place of its variables before it sends a query: a range, or a value. */
function interpolate(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, "5m").replace(/\$\{?(\w+)\}?/g, "$1-value");
}

/** A label_values(metric, label) variable query, as the PromQL selector it asks Prometheus about. */
function variableSelector(query: string): string {
  const match = /^label_values\((.+),\s*\w+\)$/.exec(query.trim());
  if (!match) throw new Error(`not a label_values() query: ${query}`);
  return match[1]!;
}

const dashboardMaps = (objects: KubeObject[]) =>
  objects.filter((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard")) as (KubeObject & {
    data: Record<string, string>;
  })[];

let dashboard: Dashboard;
let panels: Panel[];

beforeAll(async () => {
  const maps = dashboardMaps(await render({ grafanaDashboard: { enabled: true } }));
  expect(maps).toHaveLength(1);
  dashboard = JSON.parse(maps[0]!.data[DASHBOARD_KEY]!) as Dashboard;
  panels = dashboard.panels.filter((p) => p.type !== "row");
});

describe("the Grafana dashboard", () => {
  it("is a ConfigMap the dashboard sidecar picks up, only when enabled", async () => {
    expect(dashboardMaps(await render())).toEqual([]);
    const [map] = dashboardMaps(await render({ grafanaDashboard: { enabled: true } }));
    expect(map!.metadata.namespace).toBe(releaseNamespace);
    expect(map!.metadata.labels).toMatchObject({ grafana_dashboard: "1" });
    const [moved] = dashboardMaps(
      await render({
        grafanaDashboard: {
          enabled: true,
          namespace: "monitoring",
          labels: { grafana_dashboard: null, "grafana.example.com/dashboard": "orchestrator" },
          annotations: { grafana_folder: "Platform" },
        },
      }),
    );
    expect(moved!.metadata.namespace).toBe("monitoring");
    expect(moved!.metadata.labels).toMatchObject({ "grafana.example.com/dashboard": "orchestrator" });
    expect(moved!.metadata.labels).not.toHaveProperty("grafana_dashboard");
    expect(moved!.metadata.annotations).toEqual({ grafana_folder: "Platform" });
    expect(JSON.parse(moved!.data[DASHBOARD_KEY]!)).toEqual(dashboard);
  });

  it("has a uid, a title, and panels that each say what they show and query something", () => {
    expect(dashboard.uid).toBe("spot-fargate-orchestrator");
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel.title, `panel ${panel.id}`).toBeTruthy();
      expect(panel.description?.length, panel.title).toBeGreaterThan(20);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("queries only series the orchestrator exports, in PromQL Prometheus parses", async () => {
    const queries = panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `${p.title} (${t.refId})`, expr: interpolate(t.expr) })),
    );
    for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
      const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
      queries.push({ where: `variable ${variable.name}`, expr: variableSelector(query) });
    }
    const exported = await exportedSeries();
    const parsed = await parsePromql(queries.map((q) => q.expr));
    const problems = parsed.flatMap((p, i) => {
      const { where } = queries[i]!;
      if (p.error !== undefined) return [`${where}: ${p.error}`];
      if (p.selectors.length === 0) return [`${where}: selects no series`];
      return selectorProblems(p.selectors, exported).map((problem) => `${where}: ${problem}`);
    });
    expect(problems).toEqual([]);
  });

  it("lays its panels on the 24-column grid without overlaps", () => {
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const taken = cells.get(`${i},${j}`);
          expect(taken, `${panel.title} overlaps ${taken}`).toBeUndefined();
          cells.set(`${i},${j}`, panel.title);
        }
      }
    }
  });

  it("has every panel listed in the chart README", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const listed = [...readme.matchAll(/^\| \*\*(.+?)\*\* \|/gm)].map((m) => m[1]!);
    expect(listed.sort()).toEqual(panels.map((p) => p.title).sort());
  });
});
