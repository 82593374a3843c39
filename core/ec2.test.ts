import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { eventForNode } from "../cli/drill.ts";
import { instanceIdOf, parseProviderId, regionOfZone } from "./ec2.ts";

const PROVIDER_IDS: [string | undefined, ReturnType<typeof parseProviderId>][] = [
  [
    "aws:///us-east-1b/i-0b662ef9931388ba0",
    { zone: "us-east-1b", region: "us-east-1", instanceId: "i-0b662ef9931388ba0" },
  ],
  ["aws:///eu-west-1a/i-0a1b2c3d", { zone: "eu-west-1a", region: "eu-west-1", instanceId: "i-0a1b2c3d" }],
  [
    "aws:///us-west-2-lax-1a/i-0c7d8e9f0a1b2c3d4",
    { zone: "us-west-2-lax-1a", region: "us-west-2", instanceId: "i-0c7d8e9f0a1b2c3d4" },
  ],
  // not an instance id AWS issues (8 or 17 hex digits)
  ["aws:///us-east-1b/i-0abc", undefined],
  ["aws:///eu-west-1a/i-xyz", undefined],
  // Fargate nodes carry a task id, not an instance
  ["aws:///eu-west-1a/0123456789abcdef0123456789abcdef/fargate-ip-10-0-1-7", undefined],
  ["aws:///nowhere/i-0123456789abcdef0", undefined],
  ["kind://docker/kind/kind-worker", undefined],
  ["aws:///eu-west-1a/", undefined],
  ["", undefined],
  [undefined, undefined],
];

const node = (providerID?: string): V1Node => ({ metadata: { name: "n" }, spec: { providerID } });

describe("parseProviderId", () => {
  it.each(PROVIDER_IDS)("%s", (providerId, expected) => {
    expect(parseProviderId(providerId)).toEqual(expected);
  });
});

describe("one reading of a node's providerID", () => {
  // The node index maps instance → node and `drill` sends an event for a node: a node one of them
  // accepts and the other does not is an interruption that cannot be rehearsed, or a drill that goes nowhere.
  it.each(PROVIDER_IDS)("the node index and drill agree on %s", (providerId) => {
    const indexed = instanceIdOf(node(providerId));
    const drill = () =>
      eventForNode(node(providerId), { kind: "spot-interruption", time: new Date(), deadline: new Date() });
    if (indexed === undefined) expect(drill).toThrow(/is not an EC2 instance/);
    else expect(drill().detail["instance-id"]).toBe(indexed);
  });
});

describe("regionOfZone", () => {
  it.each([
    ["us-east-1b", "us-east-1"],
    ["ap-southeast-2c", "ap-southeast-2"],
    ["us-gov-west-1a", "us-gov-west-1"],
    ["us-east-1-wl1-bos-wlz-1", "us-east-1"],
    ["nowhere", undefined],
  ])("%s → %s", (zone, region) => {
    expect(regionOfZone(zone)).toBe(region);
  });
});
