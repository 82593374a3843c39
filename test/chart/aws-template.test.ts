// The CloudFormation template of the AWS side: cfn-lint (AWS's own linter, with its resource schemas) and
// the properties the orchestrator depends on.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, type ScalarTag } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../cluster/paths.ts";

const templatePath = join(repoRoot, "deploy/aws/spot-orchestrator.yaml");

// CloudFormation's short-form intrinsic functions, kept as `{ "Fn::X": value }` like the long form.
const intrinsic = (tag: string, fn: string, collection?: "seq" | "map"): ScalarTag =>
  ({
    tag: `!${tag}`,
    ...(collection ? { collection } : {}),
    resolve: (value: unknown) => ({ [fn]: (value as { toJSON?: () => unknown }).toJSON?.() ?? value }),
  }) as unknown as ScalarTag;
const customTags = ["Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select"].flatMap(
  (name) => {
    const fn = name === "Ref" ? "Ref" : `Fn::${name}`;
    return [intrinsic(name, fn), intrinsic(name, fn, "seq"), intrinsic(name, fn, "map")];
  },
);

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
const template = parse(readFileSync(templatePath, "utf8"), { customTags }) as {
  Parameters: Record<string, { Default?: string }>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, unknown>;
};
const resources = template.Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe("deploy/aws/spot-orchestrator.yaml", () => {
  it("passes cfn-lint, informational checks included", async () => {
    const result = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
      execFile("cfn-lint", ["--include-checks", "I", "--", templatePath], (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
    if (result.code === "ENOENT") {
      throw new Error("cfn-lint is not installed: `pip install cfn-lint` (PyPI) puts it on PATH");
    }
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("keeps interruption events only as long as they are useful, with a dead-letter queue", () => {
    const queue = resources.Queue!.Properties;
    expect(queue.MessageRetentionPeriod).toBe(300);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": "DeadLetterQueue.Arn" },
      maxReceiveCount: 5,
    });
    expect(resources.DeadLetterQueue!.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it("routes the three EC2 events to the queue, and lets only those rules send to it", () => {
    const rules = ofType("AWS::Events::Rule");
    const patterns = rules.map(
      ([, rule]) =>
        rule.Properties.EventPattern as { source: string[]; "detail-type": string[]; detail?: unknown },
    );
    expect(
      patterns
        .map((p) => p["detail-type"])
        .flat()
        .sort(),
    ).toEqual([
      "EC2 Instance Rebalance Recommendation",
      "EC2 Instance State-change Notification",
      "EC2 Spot Instance Interruption Warning",
    ]);
    for (const pattern of patterns) expect(pattern.source).toEqual(["aws.ec2"]);
    expect(
      patterns.find((p) => p["detail-type"][0] === "EC2 Instance State-change Notification")?.detail,
    ).toEqual({
      state: ["stopping", "shutting-down"],
    });
    for (const [, rule] of rules) {
      expect(rule.Properties.Targets).toMatchObject([{ Arn: { "Fn::GetAtt": "Queue.Arn" } }]);
    }
    const policy = resources.QueuePolicy!.Properties.PolicyDocument as {
      Statement: Record<string, unknown>[];
    };
    const allow = policy.Statement.find((s) => s.Effect === "Allow")!;
    expect(allow).toMatchObject({
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
    });
    expect(
      (allow.Condition as { ArnEquals: { "aws:SourceArn": unknown[] } }).ArnEquals["aws:SourceArn"],
    ).toEqual(rules.map(([name]) => ({ "Fn::GetAtt": `${name}.Arn` })));
  });

  it("gives the watcher's role only what consuming the queue needs", () => {
    const role = resources.OrchestratorRole!.Properties as {
      Policies: { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[];
    };
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect([...statements[0]!.Action].sort()).toEqual([
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]);
    expect(statements[0]!.Resource).toEqual({ "Fn::GetAtt": "Queue.Arn" });
  });

  it.each([
    ["IRSA and Pod Identity", true],
    ["Pod Identity only", false],
  ])("builds a valid trust policy for %s", (_name, irsa) => {
    const values: Record<string, string> = {
      OidcProviderArn: "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
      OidcProviderUrl: "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
      ServiceAccountNamespace: "spot-fargate-orchestrator",
      ServiceAccountName: "spot-fargate-orchestrator",
    };
    const sub = (text: string, vars: Record<string, string>) =>
      text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => vars[name] ?? `\${${name}}`);
    const [outer, bindings] = (
      resources.OrchestratorRole!.Properties.AssumeRolePolicyDocument as {
        "Fn::Sub": [string, Record<string, { "Fn::If": [string, { "Fn::Sub": string }, string] }>];
      }
    )["Fn::Sub"];
    const [condition, whenTrue, whenFalse] = bindings.IrsaStatement!["Fn::If"];
    expect(condition).toBe("UseIrsa");
    const document = JSON.parse(
      sub(outer, { IrsaStatement: irsa ? sub(whenTrue["Fn::Sub"], values) : whenFalse }),
    ) as {
      Statement: { Principal: Record<string, string>; Action: string | string[]; Condition?: unknown }[];
    };
    expect(document.Statement[0]).toMatchObject({
      Principal: { Service: "pods.eks.amazonaws.com" },
      Action: ["sts:AssumeRole", "sts:TagSession"],
    });
    if (irsa) {
      expect(document.Statement[1]).toMatchObject({
        Principal: { Federated: values.OidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub":
              "system:serviceaccount:spot-fargate-orchestrator:spot-fargate-orchestrator",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
          },
        },
      });
    } else {
      expect(document.Statement).toHaveLength(1);
    }
  });

  it("outputs the queue URL and the role ARN", () => {
    expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(["QueueUrl", "RoleArn"]));
    expect(template.Parameters.ServiceAccountNamespace?.Default).toBe("spot-fargate-orchestrator");
  });
});
