import { describe, expect, it } from "vitest";
import { fargateIncompatibility } from "../../../harness/fargate/compatibility.ts";
import { matchingProfile, type FargateProfile } from "../../../harness/fargate/profiles.ts";

const profiles: FargateProfile[] = [
  { name: "web", selectors: [{ namespace: "shop", labels: { "compute-type": "fargate" } }] },
  { name: "batch", selectors: [{ namespace: "jobs-*" }] },
  { name: "any-shop", selectors: [{ namespace: "shop", labels: { "tier?": "*" } }] },
];

describe("matchingProfile", () => {
  it.each<{ namespace: string; labels: Record<string, string>; expected: string | undefined }>([
    { namespace: "shop", labels: { "compute-type": "fargate" }, expected: "web" },
    { namespace: "shop", labels: { "compute-type": "spot" }, expected: undefined },
    { namespace: "shop", labels: {}, expected: undefined },
    { namespace: "other", labels: { "compute-type": "fargate" }, expected: undefined },
    { namespace: "jobs-nightly", labels: {}, expected: "batch" },
    { namespace: "jobs", labels: {}, expected: undefined },
    { namespace: "shop", labels: { tier1: "front" }, expected: "any-shop" },
    // several match: the first by name, unless the pod names one
    { namespace: "shop", labels: { "compute-type": "fargate", tier1: "x" }, expected: "any-shop" },
    {
      namespace: "shop",
      labels: { "compute-type": "fargate", tier1: "x", "eks.amazonaws.com/fargate-profile": "web" },
      expected: "web",
    },
  ])("$namespace $labels -> $expected", ({ namespace, labels, expected }) => {
    expect(matchingProfile(profiles, namespace, labels)?.name).toBe(expected);
  });
});

describe("fargateIncompatibility", () => {
  const container = { name: "app", image: "app" };
  it.each([
    { spec: { containers: [container] }, expected: undefined },
    {
      spec: { containers: [{ ...container, securityContext: { privileged: true } }] },
      expected: "Pod not supported on Fargate: invalid SecurityContext fields: Privileged",
    },
    {
      spec: {
        hostNetwork: true,
        containers: [{ ...container, ports: [{ containerPort: 80, hostPort: 80 }] }],
      },
      expected:
        "Pod not supported on Fargate: fields not supported: HostNetwork, port contains HostIP or HostPort",
    },
    {
      spec: {
        containers: [{ ...container, securityContext: { privileged: true } }],
        volumes: [{ name: "mnt", hostPath: { path: "/mnt" } }],
      },
      expected:
        "Pod not supported on Fargate: invalid SecurityContext fields: Privileged, volumes not supported: mnt is of an unsupported volume Type",
    },
  ])("$expected", ({ spec, expected }) => {
    expect(fargateIncompatibility(spec)).toBe(expected);
  });
});
