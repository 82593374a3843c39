// The rendered chart against the real apiserver of the integration cluster, as a server-side dry run:
// everything the apiserver validates beyond the OpenAPI schema (the webhooks' CEL matchConditions compile,
// selectors, names, RBAC rules) without creating anything. cert-manager's CRDs are not installed there, so
// these renders use the Helm-generated certificate.
import { execFile } from "node:child_process";
import { describe, expect, inject, it } from "vitest";
import { chartDir, helm, kubectlBinary, templateArgs } from "./helm.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { valueSets } from "./valueSets.ts";

const networkPolicyOf = (values: object) => (values as { networkPolicy: object }).networkPolicy;

function kubectlApplyDryRun(manifests: string, namespace: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectlBinary(),
      [
        "--kubeconfig",
        inject("kubeconfigPath"),
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-n",
        namespace,
        "-f",
        "-",
      ],
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: typeof err?.code === "number" ? err.code : 0, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(manifests);
  });
}

describe("chart on the apiserver (server-side dry run)", () => {
  const ns = useNamespace("chart");

  it.each([
    ["defaults", {}],
    [
      "webhook.url, one namespace, a named Deployment",
      {
        webhook: { url: "https://127.0.0.1:19443", tls: { ipAddresses: ["127.0.0.1"] } },
        config: { kubernetes: { namespace: ["team-a"], deployment_name: "web" } },
        slack: { webhookUrl: "https://hooks.slack.com/services/T/B/C" },
      },
    ],
  ])("is accepted with %s", async (_name, values) => {
    const rendered = await helm(
      templateArgs({ ...values, certManager: { enabled: false } }, { namespace: ns.name }),
    );
    expect(rendered.stderr).toBe("");
    const result = await kubectlApplyDryRun(rendered.stdout, ns.name);
    expect(result.output).not.toMatch(/error|invalid|denied/i);
    expect(result.code).toBe(0);
    for (const kind of [
      "deployment.apps",
      "mutatingwebhookconfiguration",
      "validatingwebhookconfiguration",
    ]) {
      expect(result.output).toMatch(
        new RegExp(`${kind}[^ ]*/\\S+ (created|configured|unchanged) \\(server dry run\\)`),
      );
    }
  });

  it.each([
    ["its defaults", { networkPolicy: { enabled: true } }],
    ["every rule", { networkPolicy: networkPolicyOf(valueSets["everything on"]!) }],
  ])("accepts the NetworkPolicy with %s", async (_name, values) => {
    const rendered = await helm(
      templateArgs(
        {
          ...values,
          certManager: { enabled: false },
          slack: { webhookUrl: "https://hooks.slack.com/services/T/B/C" },
        },
        { namespace: ns.name },
      ),
    );
    expect(rendered.stderr).toBe("");
    const result = await kubectlApplyDryRun(rendered.stdout, ns.name);
    expect(result.output).not.toMatch(/error|invalid|denied/i);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/networkpolicy\.networking\.k8s\.io\/\S+ created \(server dry run\)/);
  });

  it("tells the user how to opt a Deployment in and force a compute type", async () => {
    // A client-side dry run still reads the cluster (for its version and the CRDs), and prints NOTES.txt.
    const result = await helm([
      "install",
      "spot-fargate-orchestrator",
      chartDir,
      "--kubeconfig",
      inject("kubeconfigPath"),
      "--namespace",
      ns.name,
      "--dry-run=client",
      "--set",
      "certManager.enabled=false",
    ]);
    expect(result.stderr).toBe("");
    const notes = result.stdout.slice(result.stdout.indexOf("NOTES:"));
    expect(notes).toContain(
      "kubectl annotate deployment <name> -n <namespace> spot-orchestrator.io/enabled=true",
    );
    expect(notes).toContain("spot-orchestrator.io/compute=fargate --overwrite");
    expect(notes).toContain("config.aws.sqs_queue_url is empty");
  });
});
