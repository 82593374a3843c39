// Deploys deploy/aws/spot-orchestrator.yaml into moto with CloudFormation, as `aws cloudformation deploy` would.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
  type Stack,
} from "@aws-sdk/client-cloudformation";
import { repoRoot } from "../../harness/cluster/paths.ts";
import { errorMessage, waitFor } from "../../harness/cluster/wait.ts";
import { motoLogTail, type Moto } from "./moto.ts";

export const templatePath = join(repoRoot, "deploy/aws/spot-orchestrator.yaml");

export interface DeployedStack {
  stackId: string;
  /** The stack's outputs by key: QueueUrl, QueueArn, DeadLetterQueueUrl, RoleArn. */
  outputs: Record<string, string>;
}

/** Creates the stack and waits for CREATE_COMPLETE; a failure names the reason and ends with moto's log. */
export function deployStack(
  moto: Moto,
  stackName: string,
  parameters: Record<string, string>,
): Promise<DeployedStack> {
  return applyStack(moto, "create", stackName, parameters);
}

/** Updates the stack with the template and these parameters, and waits for UPDATE_COMPLETE. */
export function updateStack(
  moto: Moto,
  stackName: string,
  parameters: Record<string, string>,
): Promise<DeployedStack> {
  return applyStack(moto, "update", stackName, parameters);
}

async function applyStack(
  moto: Moto,
  action: "create" | "update",
  stackName: string,
  parameters: Record<string, string>,
): Promise<DeployedStack> {
  const cloudFormation = moto.client(CloudFormationClient);
  const input = {
    StackName: stackName,
    TemplateBody: readFileSync(templatePath, "utf8"),
    Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
      ParameterKey,
      ParameterValue,
    })),
    Capabilities: ["CAPABILITY_IAM" as const],
  };
  try {
    await cloudFormation.send(
      action === "create" ? new CreateStackCommand(input) : new UpdateStackCommand(input),
    );
    const stack: Stack = await waitFor(`stack ${stackName} to settle`, async () => {
      const [found] =
        (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks ?? [];
      return found && !found.StackStatus?.endsWith("_IN_PROGRESS") ? found : undefined;
    });
    const expected = action === "create" ? "CREATE_COMPLETE" : "UPDATE_COMPLETE";
    if (stack.StackStatus !== expected) {
      throw new Error(`${stack.StackStatus}: ${stack.StackStatusReason ?? "no reason given"}`);
    }
    return {
      stackId: stack.StackId!,
      outputs: Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue!])),
    };
  } catch (err) {
    throw new Error(
      `${action} stack ${stackName}: ${errorMessage(err)}\nmoto's log (${moto.logFile}):\n${motoLogTail(moto)}`,
      {
        cause: err,
      },
    );
  } finally {
    cloudFormation.destroy();
  }
}

/** The short hash the template derives the queue names from: the first group of the stack id's UUID. */
export function stackHash(stackId: string): string {
  const uuid = stackId.split("/")[2] ?? "";
  return uuid.split("-")[0]!;
}
