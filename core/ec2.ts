// EC2 identifiers as Kubernetes and EventBridge carry them: one parser for instance ids, zones and the
// `spec.providerID` of EC2 nodes, shared by the watcher's node index, `drill` and the tests; and the one
// reading of AWS region names (of a zone, of an SQS queue URL).
import type { V1Node } from "@kubernetes/client-node";

/** AWS instance ids: `i-` and 8 (older) or 17 hex digits. */
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function isInstanceId(value: unknown): value is string {
  return typeof value === "string" && INSTANCE_ID.test(value);
}

/** A region name: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`. */
const REGION = "[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d+";

/** `us-east-1b` → `us-east-1`; local and wavelength zones (`us-west-2-lax-1a`) → their parent region. */
export function regionOfZone(zone: string): string | undefined {
  return new RegExp(`^(${REGION})`).exec(zone)?.[1];
}

/**
 * The region an SQS queue URL names: `https://sqs.eu-west-1.amazonaws.com/...`, the legacy
 * `https://eu-west-1.queue.amazonaws.com/...`, VPC endpoints (`vpce-....sqs.eu-west-1.vpce.amazonaws.com`),
 * China and emulators that keep the shape (`sqs.us-east-1.localhost`); undefined when it names none.
 */
export function regionOfQueueUrl(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const region = new RegExp(`^${REGION}$`);
  return new URL(url).hostname.split(".").find((label) => region.test(label));
}

export interface ProviderInstance {
  zone: string;
  region: string;
  instanceId: string;
}

/**
 * `aws:///<zone>/<instance-id>` (an EC2 node's spec.providerID) → zone, region and instance id; undefined
 * for anything else (Fargate nodes carry a task id, other clouds another scheme).
 */
export function parseProviderId(providerId: string | undefined): ProviderInstance | undefined {
  const match = /^aws:\/\/\/([a-z0-9-]+)\/([^/]+)$/.exec(providerId ?? "");
  if (!match || !isInstanceId(match[2])) return undefined;
  const zone = match[1]!;
  const region = regionOfZone(zone);
  return region === undefined ? undefined : { zone, region, instanceId: match[2] };
}

/** The EC2 instance id of a node; undefined for nodes that are not EC2 instances. */
export function instanceIdOf(node: V1Node): string | undefined {
  return parseProviderId(node.spec?.providerID)?.instanceId;
}
