// The CloudFormation stack of the AWS side, created in moto: queue names that fit any cluster name, the queues'
// settings, and the IAM documents as CloudFormation renders them for each identity choice.
//
// moto does not implement, so test/chart/aws-template.test.ts asserts in the template instead: the queue
// policy (AWS::SQS::QueuePolicy), the dead-letter queue alarm (AWS::CloudWatch::Alarm), the Pod Identity
// association (AWS::EKS::PodIdentityAssociation), the template's parameter Rules, and IAM enforcement (moto
// stores policies without evaluating them). moto also names rules and roles without CloudFormation's
// truncation to 64 characters, so only the names the template sets itself are checked here.
import { join } from "node:path";
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
} from "@aws-sdk/client-iam";
import { GetQueueAttributesCommand, ListQueueTagsCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { motoAccount, startMoto, type Moto } from "./moto.ts";
import { deployStack, stackHash, updateStack } from "./stack.ts";

const region = "eu-west-1";
const oidcUrl = "oidc.eks.eu-west-1.amazonaws.com/id/5C2B8E4F1A9D3E7B6C0F2A8D4E1B9C3F";
const irsa = {
  OidcProviderArn: `arn:aws:iam::${motoAccount}:oidc-provider/${oidcUrl}`,
  OidcProviderUrl: oidcUrl,
};
const serviceAccount = { ServiceAccountNamespace: "platform-spot", ServiceAccountName: "spot-orchestrator" };

let moto: Moto;
let sqs: SQSClient;
let iam: IAMClient;

beforeAll(async () => {
  moto = await startMoto({ logDir: join(clusterDir, "logs", "aws-stack"), region });
  sqs = moto.client(SQSClient);
  iam = moto.client(IAMClient);
});

afterAll(async () => {
  sqs?.destroy();
  iam?.destroy();
  await moto?.stop();
});

const queueName = (url: string) => url.split("/").pop()!;

async function queueAttributes(url: string): Promise<Record<string, string>> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }),
  );
  return Attributes;
}

interface PolicyDocument {
  Statement: {
    Sid?: string;
    Principal?: unknown;
    Action: string | string[];
    Resource?: unknown;
    Condition?: unknown;
  }[];
}

/** IAM returns policy documents URL-encoded. */
const policyDocument = (encoded: string | undefined) =>
  JSON.parse(decodeURIComponent(encoded ?? "")) as PolicyDocument;

async function roleOf(roleArn: string) {
  const RoleName = roleArn.split("/").pop()!;
  const { Role } = await iam.send(new GetRoleCommand({ RoleName }));
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName }));
  const policies: Record<string, PolicyDocument> = {};
  for (const PolicyName of PolicyNames) {
    const { PolicyDocument } = await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }));
    policies[PolicyName] = policyDocument(PolicyDocument);
  }
  return { trust: policyDocument(Role?.AssumeRolePolicyDocument), policies };
}

describe("the stack in moto", () => {
  it("deploys for a 100-character cluster name, with queue names that fit SQS and stay with the stack", async () => {
    const clusterName = "prod-eu-west-1-payments-platform-".padEnd(100, "0123456789");
    expect(clusterName).toHaveLength(100);
    const stack = await deployStack(moto, `${clusterName}-spot-orchestrator`, {
      ClusterName: clusterName,
      ...serviceAccount,
      ...irsa,
      AlarmTopicArn: `arn:aws:sns:${region}:${motoAccount}:platform-alerts`,
    });

    const hash = stackHash(stack.stackId);
    expect(hash).toMatch(/^[0-9a-f]{8}$/);
    const queue = queueName(stack.outputs["QueueUrl"]!);
    const deadLetterQueue = queueName(stack.outputs["DeadLetterQueueUrl"]!);
    expect([queue, deadLetterQueue]).toEqual([`spot-orchestrator-${hash}`, `spot-orchestrator-${hash}-dlq`]);
    for (const name of [queue, deadLetterQueue]) expect(name.length).toBeLessThanOrEqual(80);
    expect(stack.outputs["QueueUrl"]).toBe(`https://sqs.${region}.amazonaws.com/${motoAccount}/${queue}`);
    expect(stack.outputs["QueueArn"]).toBe(`arn:aws:sqs:${region}:${motoAccount}:${queue}`);

    const attributes = await queueAttributes(stack.outputs["QueueUrl"]!);
    expect(attributes).toMatchObject({
      MessageRetentionPeriod: "300",
      VisibilityTimeout: "10",
      ReceiveMessageWaitTimeSeconds: "20",
      SqsManagedSseEnabled: "true",
    });
    expect(JSON.parse(attributes["RedrivePolicy"]!)).toEqual({
      deadLetterTargetArn: `arn:aws:sqs:${region}:${motoAccount}:${deadLetterQueue}`,
      maxReceiveCount: 5,
    });
    expect(await queueAttributes(stack.outputs["DeadLetterQueueUrl"]!)).toMatchObject({
      MessageRetentionPeriod: "1209600",
      SqsManagedSseEnabled: "true",
    });
    for (const url of [stack.outputs["QueueUrl"]!, stack.outputs["DeadLetterQueueUrl"]!]) {
      const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
      expect(Tags?.["spot-orchestrator.io/cluster"]).toBe(clusterName);
    }

    // An update keeps the queues (and the URL the chart has); another stack gets queues of its own.
    const updated = await updateStack(moto, `${clusterName}-spot-orchestrator`, {
      ClusterName: clusterName,
      ...serviceAccount,
      ...irsa,
      AllowDrill: "true",
    });
    expect(updated.outputs["QueueUrl"]).toBe(stack.outputs["QueueUrl"]);
    expect(updated.outputs["DeadLetterQueueUrl"]).toBe(stack.outputs["DeadLetterQueueUrl"]);
    const other = await deployStack(moto, `${clusterName}-blue`, { ClusterName: clusterName, ...irsa });
    expect(queueName(other.outputs["QueueUrl"]!)).toBe(`spot-orchestrator-${stackHash(other.stackId)}`);
    expect(other.outputs["QueueUrl"]).not.toBe(stack.outputs["QueueUrl"]);
  });

  it("lets the role consume the queue, read the dead-letter queue's depth, complete the termination hooks of its cluster's groups, and send only with AllowDrill", async () => {
    const plain = await deployStack(moto, "consume", { ClusterName: "consume", ...irsa });
    const drill = await deployStack(moto, "drill", { ClusterName: "drill", ...irsa, AllowDrill: "true" });

    const { policies } = await roleOf(plain.outputs["RoleArn"]!);
    expect(Object.keys(policies).sort()).toEqual(["spot-orchestrator-lifecycle", "spot-orchestrator-queue"]);
    const groups = `arn:aws:autoscaling:${region}:${motoAccount}:autoScalingGroup:*:autoScalingGroupName/*`;
    expect(policies["spot-orchestrator-lifecycle"]!.Statement).toEqual([
      {
        Sid: "CompleteLifecycleActionsOfManagedNodeGroups",
        Effect: "Allow",
        Action: "autoscaling:CompleteLifecycleAction",
        Resource: groups,
        Condition: { StringEquals: { "autoscaling:ResourceTag/eks:cluster-name": "consume" } },
      },
      {
        Sid: "CompleteLifecycleActionsOfSelfManagedGroups",
        Effect: "Allow",
        Action: "autoscaling:CompleteLifecycleAction",
        Resource: groups,
        Condition: {
          StringEquals: { "autoscaling:ResourceTag/kubernetes.io/cluster/consume": ["owned", "shared"] },
        },
      },
    ]);
    expect(policies["spot-orchestrator-queue"]!.Statement).toEqual([
      {
        Sid: "ConsumeInterruptionEvents",
        Effect: "Allow",
        Action: [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
        ],
        Resource: plain.outputs["QueueArn"],
      },
      {
        Sid: "ReadDeadLetterQueueDepth",
        Effect: "Allow",
        Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Resource: `${plain.outputs["QueueArn"]}-dlq`,
      },
    ]);

    const withDrill = await roleOf(drill.outputs["RoleArn"]!);
    expect(Object.keys(withDrill.policies).sort()).toEqual([
      "spot-orchestrator-drill",
      "spot-orchestrator-lifecycle",
      "spot-orchestrator-queue",
    ]);
    expect(withDrill.policies["spot-orchestrator-drill"]!.Statement).toEqual([
      {
        Sid: "SendDrillEvents",
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: drill.outputs["QueueArn"],
      },
    ]);
  });

  it.each([
    { QueueKmsKey: "create", created: true },
    {
      QueueKmsKey: `arn:aws:kms:${region}:${motoAccount}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      created: false,
    },
  ])(
    "encrypts both queues with a customer-managed key, which the role may use: QueueKmsKey=$QueueKmsKey",
    async ({ QueueKmsKey, created }) => {
      const name = created ? "kms-created" : "kms-given";
      const stack = await deployStack(moto, name, {
        ClusterName: name,
        ...irsa,
        AllowDrill: "true",
        QueueKmsKey,
      });
      const queue = await queueAttributes(stack.outputs["QueueUrl"]!);
      const keyArn = queue["KmsMasterKeyId"]!;
      if (created)
        expect(keyArn).toMatch(new RegExp(`^arn:aws:kms:${region}:${motoAccount}:key/[0-9a-f-]{36}$`));
      else expect(keyArn).toBe(QueueKmsKey);
      // (moto reports SqsManagedSseEnabled=true beside a key; the template leaves it out then)
      expect((await queueAttributes(stack.outputs["DeadLetterQueueUrl"]!))["KmsMasterKeyId"]).toBe(keyArn);

      const { policies } = await roleOf(stack.outputs["RoleArn"]!);
      expect(Object.keys(policies).sort()).toEqual([
        "spot-orchestrator-drill",
        "spot-orchestrator-drill-key",
        "spot-orchestrator-lifecycle",
        "spot-orchestrator-queue",
        "spot-orchestrator-queue-key",
      ]);
      expect(policies["spot-orchestrator-queue-key"]!.Statement).toEqual([
        { Sid: "DecryptInterruptionEvents", Effect: "Allow", Action: "kms:Decrypt", Resource: keyArn },
      ]);
      expect(policies["spot-orchestrator-drill-key"]!.Statement).toEqual([
        { Sid: "EncryptDrillEvents", Effect: "Allow", Action: "kms:GenerateDataKey", Resource: keyArn },
      ]);
    },
  );

  const podIdentityStatement = (clusterName: string) => ({
    Sid: "EksPodIdentity",
    Effect: "Allow",
    Principal: { Service: "pods.eks.amazonaws.com" },
    Action: ["sts:AssumeRole", "sts:TagSession"],
    Condition: {
      StringEquals: {
        "aws:SourceAccount": motoAccount,
        "aws:RequestTag/eks-cluster-name": clusterName,
        "aws:RequestTag/kubernetes-namespace": serviceAccount.ServiceAccountNamespace,
        "aws:RequestTag/kubernetes-service-account": serviceAccount.ServiceAccountName,
      },
    },
  });
  const irsaStatement = {
    Sid: "Irsa",
    Effect: "Allow",
    Principal: { Federated: irsa.OidcProviderArn },
    Action: "sts:AssumeRoleWithWebIdentity",
    Condition: {
      StringEquals: {
        [`${oidcUrl}:sub`]: "system:serviceaccount:platform-spot:spot-orchestrator",
        [`${oidcUrl}:aud`]: "sts.amazonaws.com",
      },
    },
  };

  it.each([
    { clusterName: "irsa", parameters: irsa, statements: ["Irsa"] },
    {
      clusterName: "pod-identity-trust",
      parameters: { PodIdentity: "trust" },
      statements: ["EksPodIdentity"],
    },
    {
      clusterName: "pod-identity-association-and-irsa",
      parameters: { PodIdentity: "association", ...irsa },
      statements: ["EksPodIdentity", "Irsa"],
    },
  ])("trusts exactly the chosen identity: $clusterName", async ({ clusterName, parameters, statements }) => {
    const stack = await deployStack(moto, clusterName, {
      ClusterName: clusterName,
      ...serviceAccount,
      ...parameters,
    });
    const { trust } = await roleOf(stack.outputs["RoleArn"]!);
    const expected = { EksPodIdentity: podIdentityStatement(clusterName), Irsa: irsaStatement };
    expect(trust).toEqual({
      Version: "2012-10-17",
      Statement: statements.map((sid) => expected[sid as keyof typeof expected]),
    });
  });
});
