// `spot-orchestrator status`: a table of opted-in Deployments and where each stands.
import { parseArgs } from "node:util";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, requestedCompute } from "../core/contract.ts";
import { loadConfig, type Config } from "../core/config.ts";
import { createKube } from "../core/kube.ts";
import { listOptedInDeployments } from "../watcher/cluster/optedIn.ts";
import { formatDuration } from "../core/duration.ts";
import { recoveryState } from "../watcher/recoveryPolicy.ts";

const HELP = `Usage: spot-orchestrator status [--namespace NS] [--kubeconfig PATH] [--config PATH] [--output table|json]`;

export async function statusCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespace: { type: "string", short: "n" },
      kubeconfig: { type: "string" },
      config: { type: "string" },
      output: { type: "string", short: "o", default: "table" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(HELP);
  const config = loadConfig({ file: values.config });
  const kube = createKube({ kubeconfig: values.kubeconfig });
  const namespaces = values.namespace ? [values.namespace] : config.kubernetes.namespaces;
  const deployments = await listOptedInDeployments(kube, {
    namespaces,
    deploymentName: config.kubernetes.deploymentName,
  });
  const rows = statusRows(deployments, config, Date.now());
  if (values.output === "json") console.log(JSON.stringify(rows, null, 2));
  else console.log(formatTable(rows));
}

export interface StatusRow {
  namespace: string;
  name: string;
  compute: string;
  reason: string;
  changed: string;
  rollout: string;
  failedRecoveries: string;
  nextRecovery: string;
}

export function statusRows(deployments: V1Deployment[], config: Config, now: number): StatusRow[] {
  return deployments
    .map((d) => {
      const a = d.metadata?.annotations ?? {};
      const changedAt = a[Annotation.changedAt];
      return {
        namespace: d.metadata?.namespace ?? "",
        name: d.metadata?.name ?? "",
        compute: requestedCompute(d) ?? `invalid (${a[Annotation.compute]})`,
        reason: a[Annotation.reason] ?? "-",
        changed: changedAt ? `${ago(Date.parse(changedAt), now)} by ${a[Annotation.changedBy] ?? "?"}` : "-",
        rollout: a[Annotation.rollout] ?? "-",
        failedRecoveries: a[Annotation.failedRecoveryAttempts] ?? "0",
        nextRecovery: nextRecovery(d, config, now),
      };
    })
    .sort((x, y) => x.namespace.localeCompare(y.namespace) || x.name.localeCompare(y.name));
}

function nextRecovery(d: V1Deployment, config: Config, now: number): string {
  if (requestedCompute(d) !== "fargate") return "-";
  if (!config.recovery.enabled) return "recovery disabled";
  const state = recoveryState(d, config.recovery);
  if (!state.eligible) return `never (${state.why})`;
  return state.notBefore <= now ? "due (when spot fits)" : `in ${formatDuration(state.notBefore - now)}`;
}

function ago(then: number, now: number): string {
  return Number.isNaN(then) ? "?" : `${formatDuration(Math.max(0, now - then))} ago`;
}

const COLUMNS: [keyof StatusRow, string][] = [
  ["namespace", "NAMESPACE"],
  ["name", "NAME"],
  ["compute", "COMPUTE"],
  ["reason", "REASON"],
  ["changed", "CHANGED"],
  ["rollout", "ROLLOUT"],
  ["failedRecoveries", "FAILED RECOVERIES"],
  ["nextRecovery", "NEXT RECOVERY"],
];

export function formatTable(rows: StatusRow[]): string {
  if (rows.length === 0)
    return "No opted-in Deployments (annotate one with spot-orchestrator.io/enabled=true).";
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => r[key].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("   ")
      .trimEnd();
  return [line(COLUMNS.map(([, t]) => t)), ...rows.map((r) => line(COLUMNS.map(([k]) => r[k])))].join("\n");
}
