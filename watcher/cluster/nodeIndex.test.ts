import { describe, expect, it } from "vitest";
import type { V1Node } from "@kubernetes/client-node";
import { instanceIdOf } from "./nodeIndex.ts";

const node = (providerID?: string): V1Node => ({ metadata: { name: "n" }, spec: { providerID } });

describe("instanceIdOf", () => {
  it.each([
    ["aws:///eu-west-1a/i-0123456789abcdef0", "i-0123456789abcdef0"],
    ["aws:///us-east-1b/i-0abc", "i-0abc"],
    // Fargate nodes carry a task id, not an instance
    [
      "aws:///eu-west-1a/0123456789abcdef0123456789abcdef/fargate-ip-10-0-1-2.eu-west-1.compute.internal",
      undefined,
    ],
    ["kind://docker/kind/kind-control-plane", undefined],
    ["aws:///eu-west-1a/", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%s → %s", (providerID, expected) => {
    expect(instanceIdOf(node(providerID))).toBe(expected);
  });
});
