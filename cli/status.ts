// `spot-orchestrator status`: a table of opted-in Deployments and where each stands. The next recovery is
// computed as the running watcher computes it, from the settings its leader keeps on the Lease.
import { parseArgs } from "node:util";
import type { V1Deployment, V1Lease } from "@kubernetes/client-node";
import { CLUSTER_FLAGS } from "../core/commandLine.ts";
import { Annotation, isOffSpot, requestedCompute } from "../core/contract.ts";
import { ConfigError, loadConfig, type Config, type LoadOptions } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { createKube, statusOf, type Kube } from "../core/kube.ts";
import { parseTime } from "../core/time.ts";
import { KubeDeployments } from "../watcher/moves/deployments.ts";
import { nextAttempt, recoveryState } from "../watcher/recovery/policy.ts";
import { queueReport } from "../watcher/lease/queueOnLease.ts";
import { settingsOnLease } from "../watcher/lease/settingsOnLease.ts";
import { optInScopeOf } from "../core/config.ts";

const HELP = `Usage: spot-orchestrator status [--namespace NS] [--kubeconfig PATH] [--config PATH] [--output table|json]

The next recovery uses the recovery settings the leader watcher keeps on its Lease (watcher.lease_name in
watcher.lease_namespace, POD_NAMESPACE); without a leader, this machine's configuration. The queue line says
whether the leader can read its SQS queue, as it reports on the same Lease.`;

export async function statusCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CLUSTER_FLAGS,
      namespace: { type: "string", short: "n" },
      output: { type: "string", short: "o", default: "table" },
    },
  });
  if (values.help) return void console.log(HELP);
  const load = (flags: LoadOptions["flags"] = {}) => loadConfig({ file: values.config, flags });
  const kube = createKube({ kubeconfig: values.kubeconfig });
  const { config, source, lease } = await effectiveSettings(kube, load);
  const scope = optInScopeOf(config);
  if (values.namespace) scope.namespaces = [values.namespace];
  const now = Date.now();
  const rows = statusRows(await new KubeDeployments(kube, scope).list(), config, now);
  const queue = queueReport(lease, now);
  if (values.output === "json") console.log(JSON.stringify({ deployments: rows, queue }, null, 2));
  else console.log(`${formatTable(rows)}\n\nNext recovery: ${source}.\nQueue: ${queue.text}.`);
}

/**
 * The configuration (`load`ed with the leader's recovery settings as flags), where those came from, and the
 * leader's Lease when it could be read.
 */
export async function effectiveSettings(
  kube: Kube,
  load: (flags?: LoadOptions["flags"]) => Config,
): Promise<{ config: Config; source: string; lease?: V1Lease }> {
  const local = load();
  const { leaseNamespace: namespace, leaseName: name } = local.watcher;
  try {
    const lease = await kube.coordination.readNamespacedLease({ namespace, name });
    const flags = settingsOnLease(lease);
    if (flags === undefined) {
      return {
        config: local,
        source: `this machine's settings (the Lease ${namespace}/${name} has none)`,
        lease,
      };
    }
    const holder = lease.spec?.holderIdentity || "no current holder";
    const lent = `Lease ${namespace}/${name}, ${holder}`;
    try {
      return { config: load(flags), source: `settings of the leader watcher (${lent})`, lease };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { config: local, source: `this machine's settings (the ${lent} has unreadable ones)`, lease };
    }
  } catch (err) {
    if (statusOf(err) !== 404) {
      const why = err instanceof Error ? err.message : String(err);
      return { config: local, source: `this machine's settings (the Lease could not be read: ${why})` };
    }
  }
  return {
    config: local,
    source: `this machine's settings (no leader watcher's Lease ${namespace}/${name})`,
  };
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
      const changedAt = parseTime(a[Annotation.changedAt]);
      return {
        namespace: d.metadata?.namespace ?? "",
        name: d.metadata?.name ?? "",
        compute: requestedCompute(d) ?? `invalid (${a[Annotation.compute]})`,
        reason: a[Annotation.reason] ?? "-",
        changed:
          changedAt === undefined
            ? "-"
            : `${formatDuration(Math.max(0, now - changedAt))} ago by ${a[Annotation.changedBy] ?? "?"}`,
        rollout: a[Annotation.rollout] ?? "-",
        failedRecoveries: a[Annotation.failedRecoveryAttempts] ?? "0",
        nextRecovery: nextRecovery(d, config, now),
      };
    })
    .sort((x, y) => x.namespace.localeCompare(y.namespace) || x.name.localeCompare(y.name));
}

function nextRecovery(d: V1Deployment, config: Config, now: number): string {
  if (!isOffSpot(requestedCompute(d))) return "-";
  if (!config.recovery.enabled) return "recovery disabled";
  return nextAttempt(recoveryState(d, config.recovery), now);
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
