// What a platform team's policy scanners say about what users install: checkov (PyPI) over the rendered chart,
// the Dockerfile and the CloudFormation template, and kube-score (a Go test tool) over the rendered chart, with
// its defaults and with every optional part on. Every check runs; the scan passes only with no finding at all.
// A finding that is a choice is skipped by its ID, with the reason, where it is made (annotations of the
// Deployment, comments of the Dockerfile, Metadata of the template), so the reason reaches every scan of it;
// the README's "What the scanners say" lists them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../harness/cluster/command.ts";
import { repoRoot } from "../../harness/cluster/paths.ts";
import { helm, kubeVersion, one, render, templateArgs } from "./helm.ts";
import { valueSets } from "./valueSets.ts";

const scratch = mkdtempSync(join(tmpdir(), "sfo-scan-"));

/** The chart rendered with these values, in a file of its own. */
async function renderedChart(name: string, values: object): Promise<string> {
  const result = await helm(templateArgs(values));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr.trim()}`);
  const file = join(scratch, `${name.replace(/\W+/g, "-")}.yaml`);
  writeFileSync(file, result.stdout);
  return file;
}

async function run(tool: string, args: readonly string[], installedBy: string) {
  try {
    // checkov logs a traceback for a check of its own that cannot read the template's `Fn::Sub` documents
    return await runCommand(tool, args, { timeoutMs: 180_000, env: { ...process.env, LOG_LEVEL: "ERROR" } });
  } catch (err) {
    throw new Error(`${tool} did not run (${installedBy} installs it)`, { cause: err });
  }
}

interface CheckovReport {
  check_type: string;
  results: {
    failed_checks: { check_id: string; check_name: string; resource: string; file_line_range: number[] }[];
  };
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
}

/** checkov's findings in these files (one line each), after its skip annotations and comments. */
async function checkov(framework: string, file: string): Promise<{ findings: string[]; passed: number }> {
  const result = await run(
    "checkov",
    ["--framework", framework, "--file", file, "--output", "json", "--skip-download", "--compact"],
    "test/tools/python-tools.sh",
  );
  let report: CheckovReport;
  try {
    report = JSON.parse(result.stdout) as CheckovReport;
  } catch {
    throw new Error(`checkov exited ${result.code} without a report:\n${result.stdout}\n${result.stderr}`);
  }
  expect(report.summary.parsing_errors, `checkov could not parse ${file}`).toBe(0);
  return {
    findings: report.results.failed_checks.map(
      (c) => `${c.check_id} ${c.check_name} (${c.resource}, lines ${c.file_line_range.join("-")})`,
    ),
    passed: report.summary.passed,
  };
}

interface KubeScoreObject {
  object_name: string;
  checks: {
    check: { id: string; name: string };
    grade: number;
    skipped: boolean;
    comments: { path: string; summary: string }[] | null;
  }[];
}

/** kube-score's findings (critical and warning, one line each), after its `kube-score/ignore` annotations. */
async function kubeScore(file: string): Promise<{ findings: string[]; scored: number }> {
  const version = /^v\d+\.\d+/.exec(kubeVersion)![0];
  const result = await run(
    "kube-score",
    ["score", "--output-format", "json", "--kubernetes-version", version, file],
    "test/tools/go-tools.sh (test/tools/go/kube-score)",
  );
  let objects: KubeScoreObject[];
  try {
    objects = JSON.parse(result.stdout) as KubeScoreObject[];
  } catch {
    throw new Error(`kube-score exited ${result.code} without a report:\n${result.stdout}\n${result.stderr}`);
  }
  const findings = objects.flatMap((o) =>
    o.checks
      .filter((c) => !c.skipped && c.grade < 10)
      .map((c) => {
        const comments = (c.comments ?? []).map((m) => `${m.path ? `(${m.path}) ` : ""}${m.summary}`);
        const grade = c.grade <= 1 ? "CRITICAL" : "WARNING";
        return `${grade} ${c.check.id} (${o.object_name}): ${[...new Set(comments)].join("; ")}`;
      }),
  );
  return { findings, scored: objects.length };
}

const listed = (findings: string[]) => `findings:\n  ${findings.join("\n  ")}`;

const chartValueSets = Object.entries(valueSets).filter(([name]) =>
  ["defaults", "everything on"].includes(name),
);

describe("what a platform team's scanners say", () => {
  it.each(chartValueSets)("checkov finds nothing in the chart with %s", async (name, values) => {
    const { findings, passed } = await checkov("kubernetes", await renderedChart(`checkov ${name}`, values));
    expect(findings, listed(findings)).toEqual([]);
    expect(passed).toBeGreaterThan(50);
  });

  it.each(chartValueSets)("kube-score finds nothing in the chart with %s", async (name, values) => {
    const { findings, scored } = await kubeScore(await renderedChart(`kube-score ${name}`, values));
    expect(findings, listed(findings)).toEqual([]);
    expect(scored).toBeGreaterThanOrEqual(3);
  });

  it("checkov finds nothing in the Dockerfile", async () => {
    const { findings, passed } = await checkov("dockerfile", join(repoRoot, "Dockerfile"));
    expect(findings, listed(findings)).toEqual([]);
    expect(passed).toBeGreaterThan(10);
  });

  it("checkov finds nothing in the CloudFormation template", async () => {
    const template = join(repoRoot, "deploy/aws/spot-orchestrator.yaml");
    const { findings, passed } = await checkov("cloudformation", template);
    expect(findings, listed(findings)).toEqual([]);
    expect(passed).toBeGreaterThan(10);
  });

  it("skips on the Deployment only the checks whose choice holds, each ID with its reason", async () => {
    const annotations = async (values: object) =>
      one(await render(values), "Deployment").metadata.annotations ?? {};
    const skips = (all: Record<string, string>) => ({
      checkov: Object.entries(all)
        .filter(([key]) => key.startsWith("checkov.io/skip"))
        .map(([, value]) => value.split("=")[0]),
      kubeScore: all["kube-score/ignore"]?.split(","),
    });
    const defaults = await annotations({});
    for (const [key, value] of Object.entries(defaults)) {
      if (key.startsWith("checkov.io/skip")) expect(value).toMatch(/^CKV2?_K8S_\d+=[^=]{20,}$/);
    }
    expect(skips(defaults)).toEqual({
      checkov: ["CKV_K8S_11", "CKV_K8S_38", "CKV_K8S_15", "CKV_K8S_43", "CKV2_K8S_6"],
      kubeScore: [
        "container-resources",
        "container-ephemeral-storage-request-and-limit",
        "container-image-pull-policy",
        "pod-networkpolicy",
      ],
    });
    const undone = await annotations({
      image: { digest: `sha256:${"a".repeat(64)}`, pullPolicy: "Always" },
      networkPolicy: { enabled: true },
      slack: { existingSecret: "slack" },
      deploymentAnnotations: { team: "platform", "kube-score/ignore": "pod-probes" },
    });
    expect(skips(undone)).toEqual({
      checkov: ["CKV_K8S_11", "CKV_K8S_38", "CKV_K8S_35"],
      kubeScore: ["container-resources", "container-ephemeral-storage-request-and-limit"],
    });
    expect(undone["team"]).toBe("platform");
  });

  // kube-score's container-resources is skipped for the CPU limit alone: the rest of it, checked here
  it("requests CPU and memory and limits memory in both containers, as kube-score's container-resources would", async () => {
    const deployment = one(await render({}), "Deployment") as unknown as {
      spec: { template: { spec: { containers: { name: string; resources: Record<string, unknown> }[] } } };
    };
    const resources = Object.fromEntries(
      deployment.spec.template.spec.containers.map((c) => [c.name, c.resources]),
    );
    for (const name of ["webhook", "watcher"]) {
      expect(resources[name]).toMatchObject({
        requests: { cpu: expect.any(String), memory: expect.any(String) },
        limits: { memory: expect.any(String) },
      });
    }
  });

  // The skips are by ID and conditional on what they excuse: a new weakness is still a finding.
  it("still reports what a change would break: a writable root filesystem, a moving image tag", async () => {
    const file = await renderedChart("regression", {
      securityContext: { readOnlyRootFilesystem: false },
      image: { tag: "latest" },
    });
    const [fromCheckov, fromKubeScore] = await Promise.all([checkov("kubernetes", file), kubeScore(file)]);
    expect(fromCheckov.findings.map((f) => f.split(" ")[0])).toEqual(
      expect.arrayContaining(["CKV_K8S_22", "CKV_K8S_14"]),
    );
    expect(fromKubeScore.findings.map((f) => f.split(" ")[1])).toEqual(
      expect.arrayContaining(["container-security-context-readonlyrootfilesystem", "container-image-tag"]),
    );
  });
});
