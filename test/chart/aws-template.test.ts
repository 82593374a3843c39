// The CloudFormation template of the AWS side: cfn-lint (AWS's own linter, with its resource schemas) and
// the properties the orchestrator depends on.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, type ScalarTag } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../harness/cluster/paths.ts";

const templatePath = join(repoRoot, "deploy/aws/spot-orchestrator.yaml");

// CloudFormation's short-form intrinsic functions, kept as `{ "Fn::X": value }` like the long form.
const intrinsic = (tag: string, fn: string, collection?: "seq" | "map"): ScalarTag =>
  ({
    tag: `!${tag}`,
    ...(collection ? { collection } : {}),
    resolve: (value: unknown) => ({ [fn]: (value as { toJSON?: () => unknown }).toJSON?.() ?? value }),
  }) as unknown as ScalarTag;
const customTags = [
  "Ref",
  "Sub",
  "GetAtt",
  "If",
  "Equals",
  "Not",
  "And",
  "Or",
  "Join",
  "Select",
  "Split",
].flatMap((name) => {
  const fn = name === "Ref" ? "Ref" : `Fn::${name}`;
  return [intrinsic(name, fn), intrinsic(name, fn, "seq"), intrinsic(name, fn, "map")];
});

interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string;
  Properties: Record<string, unknown>;
}
const template = parse(readFileSync(templatePath, "utf8"), { customTags }) as {
  Parameters: Record<string, { Default?: string; AllowedPattern?: string }>;
  Rules: Record<string, { Assertions: { Assert: unknown; AssertDescription: string }[] }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, unknown>;
};
const resources = template.Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/** Evaluates a condition or rule expression (Ref, Condition, Fn::Equals/Not/And/Or) for these parameters. */
function evaluate(expression: unknown, parameters: Record<string, string>): unknown {
  if (typeof expression !== "object" || expression === null) return expression;
  const [[fn, arg]] = Object.entries(expression) as [[string, unknown]];
  const args = arg as unknown[];
  const value = (e: unknown) => evaluate(e, parameters);
  switch (fn) {
    case "Ref":
      return parameters[arg as string] ?? template.Parameters[arg as string]?.Default;
    case "Condition":
      return value(template.Conditions[arg as string]);
    case "Fn::Equals":
      return value(args[0]) === value(args[1]);
    case "Fn::Not":
      return !value(args[0]);
    case "Fn::And":
      return args.every((e) => value(e) === true);
    case "Fn::Or":
      return args.some((e) => value(e) === true);
  }
  throw new Error(`cannot evaluate ${fn}`);
}

/** The descriptions of the template's Rules assertions that these parameters break. */
const brokenRules = (parameters: Record<string, string>) =>
  Object.values(template.Rules)
    .flatMap((rule) => rule.Assertions)
    .filter((assertion) => evaluate(assertion.Assert, parameters) !== true)
    .map((assertion) => assertion.AssertDescription);

const irsa = {
  OidcProviderArn: "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
  OidcProviderUrl: "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
};

// moto (test/aws/) creates the stack, renders the IAM documents and delivers events through the rules; it does
// not implement the queue policy, the alarm, the Pod Identity association or Rules, which are checked here.
describe("deploy/aws/spot-orchestrator.yaml", () => {
  it("passes cfn-lint, informational checks included", async () => {
    const result = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
      execFile("cfn-lint", ["--include-checks", "I", "--", templatePath], (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
    if (result.code === "ENOENT") {
      throw new Error(
        "cfn-lint is not installed: test/tools/python-tools.sh installs it (the integration setup runs it)",
      );
    }
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("routes the six event kinds to the queue, their undeliverable events to the dead-letter queue", () => {
    const patterns = Object.fromEntries(
      ofType("AWS::Events::Rule").map(([name, rule]) => [name, rule.Properties.EventPattern]),
    );
    expect(patterns).toEqual({
      SpotInterruptionRule: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
      },
      CapacityReservationInterruptionRule: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
      },
      RebalanceRecommendationRule: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Instance Rebalance Recommendation"],
      },
      InstanceStateChangeRule: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        detail: { state: ["stopping", "shutting-down", "stopped", "terminated"] },
      },
      ScheduledChangeRule: {
        source: ["aws.health"],
        "detail-type": ["AWS Health Event"],
        detail: { service: ["EC2"], eventTypeCategory: ["scheduledChange"] },
      },
      AutoScalingTerminationRule: {
        source: ["aws.autoscaling"],
        "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
      },
    });
    for (const [, rule] of ofType("AWS::Events::Rule")) {
      expect(rule.Properties.State).toBe("ENABLED");
      expect(rule.Properties.Targets).toMatchObject([
        {
          Arn: { "Fn::GetAtt": "Queue.Arn" },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": "DeadLetterQueue.Arn" } },
        },
      ]);
    }
  });

  it("lets only the stack's rules send to the queues, and only over TLS", () => {
    const policy = resources.QueuePolicy!.Properties as {
      Queues: unknown[];
      PolicyDocument: { Statement: Record<string, unknown>[] };
    };
    expect(policy.Queues).toEqual([{ Ref: "Queue" }, { Ref: "DeadLetterQueue" }]);
    const bothQueues = [{ "Fn::GetAtt": "Queue.Arn" }, { "Fn::GetAtt": "DeadLetterQueue.Arn" }];
    const [allow, deny] = policy.PolicyDocument.Statement;
    expect(allow).toEqual({
      Sid: "EventBridgeRules",
      Effect: "Allow",
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: bothQueues,
      Condition: {
        ArnEquals: {
          "aws:SourceArn": ofType("AWS::Events::Rule").map(([name]) => ({ "Fn::GetAtt": `${name}.Arn` })),
        },
      },
    });
    expect(deny).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Action: "sqs:*",
      Resource: bothQueues,
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });

  it("alarms on any event in the dead-letter queue, notifying the topic when one is given", () => {
    expect(resources.DeadLetterQueueAlarm!.Properties).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": "DeadLetterQueue.QueueName" } }],
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
    const notify = { "Fn::If": ["NotifyAlarmTopic", [{ Ref: "AlarmTopicArn" }], { Ref: "AWS::NoValue" }] };
    expect(resources.DeadLetterQueueAlarm!.Properties.AlarmActions).toEqual(notify);
    expect(resources.DeadLetterQueueAlarm!.Properties.OKActions).toEqual(notify);
    expect(evaluate({ Condition: "NotifyAlarmTopic" }, {})).toBe(false);
    expect(
      evaluate(
        { Condition: "NotifyAlarmTopic" },
        { AlarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:alerts" },
      ),
    ).toBe(true);
  });

  it.each([
    { PodIdentity: "none", trust: false, association: false },
    { PodIdentity: "trust", trust: true, association: false },
    { PodIdentity: "association", trust: true, association: true },
  ])(
    "PodIdentity=$PodIdentity: trust $trust, association $association",
    ({ PodIdentity, trust, association }) => {
      expect(evaluate({ Condition: "TrustPodIdentity" }, { PodIdentity })).toBe(trust);
      expect(evaluate({ Condition: "TrustPodIdentityAndIrsa" }, { PodIdentity, ...irsa })).toBe(trust);
      expect(evaluate({ Condition: "CreatePodIdentityAssociation" }, { PodIdentity })).toBe(association);
    },
  );

  it("creates the Pod Identity association only when asked, once the role has its permissions", () => {
    const resource = resources.PodIdentityAssociation!;
    expect(resource.Condition).toBe("CreatePodIdentityAssociation");
    expect(resource.DependsOn).toEqual(["ConsumerPolicy", "LifecyclePolicy"]);
    expect(resource.Properties).toEqual({
      ClusterName: { Ref: "ClusterName" },
      Namespace: { Ref: "ServiceAccountNamespace" },
      ServiceAccount: { Ref: "ServiceAccountName" },
      RoleArn: { "Fn::GetAtt": "OrchestratorRole.Arn" },
    });
  });

  it.each<{ parameters: Record<string, string>; broken: string[] }>([
    { parameters: {}, broken: ["The watcher needs an AWS identity"] },
    { parameters: { OidcProviderArn: irsa.OidcProviderArn }, broken: ["IRSA needs both"] },
    {
      parameters: { OidcProviderUrl: irsa.OidcProviderUrl },
      broken: ["The watcher needs", "IRSA needs both"],
    },
    {
      parameters: { PodIdentity: "trust", OidcProviderUrl: irsa.OidcProviderUrl },
      broken: ["IRSA needs both"],
    },
    { parameters: irsa, broken: [] },
    { parameters: { PodIdentity: "trust" }, broken: [] },
    { parameters: { PodIdentity: "association", ...irsa }, broken: [] },
  ])("refuses a stack without a usable identity: $parameters", ({ parameters, broken }) => {
    const descriptions = brokenRules(parameters);
    expect(descriptions).toHaveLength(broken.length);
    broken.forEach((start, i) => expect(descriptions[i]).toMatch(new RegExp(`^${start}`)));
  });

  it("encrypts both queues with SQS-managed keys by default, else with the customer-managed key given or created", () => {
    const keyArn = { "Fn::If": ["CreateKmsKey", { "Fn::GetAtt": "QueueKey.Arn" }, { Ref: "QueueKmsKey" }] };
    for (const queue of [resources.Queue!, resources.DeadLetterQueue!]) {
      expect(queue.Properties.SqsManagedSseEnabled).toEqual({
        "Fn::If": ["UseKmsKey", { Ref: "AWS::NoValue" }, true],
      });
      expect(queue.Properties.KmsMasterKeyId).toEqual({
        "Fn::If": ["UseKmsKey", keyArn, { Ref: "AWS::NoValue" }],
      });
    }
    const given = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    expect(
      ([{}, { QueueKmsKey: "create" }, { QueueKmsKey: given }] as Record<string, string>[]).map(
        (parameters) => [
          evaluate({ Condition: "UseKmsKey" }, parameters),
          evaluate({ Condition: "CreateKmsKey" }, parameters),
        ],
      ),
    ).toEqual([
      [false, false],
      [true, true],
      [true, false],
    ]);
    const pattern = new RegExp(template.Parameters.QueueKmsKey!.AllowedPattern!);
    for (const value of ["", "create", given, given.replace("1234abcd-12ab", "mrk-1234abcd12ab")])
      expect(value).toMatch(pattern);
    // an alias would not do: IAM policies grant the use of a key by its key ARN
    for (const value of ["alias/queues", "arn:aws:kms:eu-west-1:111122223333:alias/queues", "Create"])
      expect(value).not.toMatch(pattern);

    // the role decrypts what it receives, and encrypts what a drill sends
    expect(resources.QueueKeyPolicy!.Condition).toBe("UseKmsKey");
    expect(resources.DrillKeyPolicy!.Condition).toBe("DrillAllowedWithKmsKey");
    expect(evaluate({ Condition: "DrillAllowedWithKmsKey" }, { AllowDrill: "true" })).toBe(false);
    expect(
      evaluate({ Condition: "DrillAllowedWithKmsKey" }, { AllowDrill: "true", QueueKmsKey: "create" }),
    ).toBe(true);
    const statements = (name: string) =>
      (resources[name]!.Properties.PolicyDocument as { Statement: unknown[] }).Statement;
    expect(statements("QueueKeyPolicy")).toEqual([
      { Sid: "DecryptInterruptionEvents", Effect: "Allow", Action: "kms:Decrypt", Resource: keyArn },
    ]);
    expect(statements("DrillKeyPolicy")).toEqual([
      { Sid: "EncryptDrillEvents", Effect: "Allow", Action: "kms:GenerateDataKey", Resource: keyArn },
    ]);
  });

  it("creates a rotated key whose policy lets EventBridge send to the encrypted queues, with QueueKmsKey=create", () => {
    for (const name of ["QueueKey", "QueueKeyAlias"]) expect(resources[name]!.Condition).toBe("CreateKmsKey");
    const key = resources.QueueKey!.Properties as {
      EnableKeyRotation: boolean;
      KeyPolicy: { Statement: Record<string, unknown>[] };
    };
    expect(key.EnableKeyRotation).toBe(true);
    expect(key.KeyPolicy.Statement).toEqual([
      {
        Sid: "AccountAdministersTheKeyAndIamGrantsItsUse",
        Effect: "Allow",
        Principal: { AWS: { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "EventBridgeSendsToTheQueues",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: "*",
      },
    ]);
    expect(resources.QueueKeyAlias!.Properties.TargetKeyId).toEqual({ Ref: "QueueKey" });
  });

  it("outputs the queue URLs and the role ARN", () => {
    expect(Object.keys(template.Outputs).sort()).toEqual([
      "DeadLetterQueueUrl",
      "QueueArn",
      "QueueUrl",
      "RoleArn",
    ]);
    expect(template.Parameters.ServiceAccountNamespace?.Default).toBe("spot-fargate-orchestrator");
  });
});
