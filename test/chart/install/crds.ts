// The CRDs the chart's optional objects need, as their projects publish them: cert-manager's (Certificate,
// Issuer, ...) and the Prometheus Operator's ServiceMonitor and PrometheusRule, read from their Go modules.
import { join } from "node:path";
import { goModuleDir } from "./go-module.ts";
import { kubectl } from "./kubectl.ts";

export const certManagerVersion = "v1.21.2";
export const prometheusOperatorVersion = "v0.85.0";

export function prerequisiteCrdFiles(): string[] {
  const certManager = join(
    goModuleDir("github.com/cert-manager/cert-manager", certManagerVersion),
    "deploy/crds",
  );
  const prometheusOperator = join(
    goModuleDir("github.com/prometheus-operator/prometheus-operator", prometheusOperatorVersion),
    "example/prometheus-operator-crd",
  );
  return [
    ...["certificates", "certificaterequests", "issuers", "clusterissuers"].map((plural) =>
      join(certManager, `cert-manager.io_${plural}.yaml`),
    ),
    ...["challenges", "orders"].map((plural) => join(certManager, `acme.cert-manager.io_${plural}.yaml`)),
    ...["servicemonitors", "prometheusrules"].map((plural) =>
      join(prometheusOperator, `monitoring.coreos.com_${plural}.yaml`),
    ),
  ];
}

/**
 * Applies the CRDs (server-side, so concurrent runs on a shared cluster converge) and waits until the
 * apiserver serves them. They stay installed afterwards, like cert-manager on a real cluster: removing them
 * would pull them from under another run of this test.
 */
export async function applyPrerequisiteCrds(): Promise<void> {
  const files = prerequisiteCrdFiles().flatMap((file) => ["-f", file]);
  await kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=sfo-chart-test", ...files]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=30s", ...files], { timeoutMs: 40_000 });
}
