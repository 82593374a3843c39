import type { V1Container, V1PodSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { fargateSize } from "./fargateSize.ts";

const app = (requests: Record<string, string>, extra: Partial<V1Container> = {}): V1Container => ({
  name: "app",
  image: "app",
  resources: { requests },
  ...extra,
});
const pod = (...containers: V1Container[]): V1PodSpec => ({ containers });

describe("fargateSize", () => {
  it.each<[string, V1PodSpec, { vcpu: number; memoryGiB: number } | undefined]>([
    ["no requests: the smallest size", pod({ name: "app" }), { vcpu: 0.25, memoryGiB: 0.5 }],
    [
      "100m and 64Mi (+256Mi) fit the smallest",
      pod(app({ cpu: "100m", memory: "64Mi" })),
      { vcpu: 0.25, memoryGiB: 0.5 },
    ],
    [
      "256Mi + 256Mi is exactly 0.5 GB",
      pod(app({ cpu: "250m", memory: "256Mi" })),
      { vcpu: 0.25, memoryGiB: 0.5 },
    ],
    [
      "257Mi + 256Mi rounds up to 1 GB",
      pod(app({ cpu: "250m", memory: "257Mi" })),
      { vcpu: 0.25, memoryGiB: 1 },
    ],
    [
      "0.1 + 0.15 vCPU is 0.25, not a float more",
      pod(app({ cpu: "0.1" }), app({ cpu: "0.15" }, { name: "b" })),
      { vcpu: 0.25, memoryGiB: 0.5 },
    ],
    ["251m needs the 0.5 vCPU row", pod(app({ cpu: "251m" })), { vcpu: 0.5, memoryGiB: 1 }],
    [
      "0.25 vCPU with 3 GB moves to the 0.5 vCPU row",
      pod(app({ cpu: "250m", memory: "2800Mi" })),
      { vcpu: 0.5, memoryGiB: 3 },
    ],
    [
      "AWS's example: 1 vCPU and 8 GB becomes 2 vCPU and 9 GB",
      pod(app({ cpu: "1", memory: "8Gi" })),
      { vcpu: 2, memoryGiB: 9 },
    ],
    ["4 vCPU takes at least 8 GB", pod(app({ cpu: "4", memory: "1Gi" })), { vcpu: 4, memoryGiB: 8 }],
    [
      "31 GB needs 8 vCPU, in 4 GB steps: 32",
      pod(app({ cpu: "1", memory: "30Gi" })),
      { vcpu: 8, memoryGiB: 32 },
    ],
    [
      "61 GB needs 16 vCPU, in 8 GB steps: 64",
      pod(app({ cpu: "1", memory: "60Gi" })),
      { vcpu: 16, memoryGiB: 64 },
    ],
    ["the largest", pod(app({ cpu: "16", memory: "119Gi" })), { vcpu: 16, memoryGiB: 120 }],
    ["more than 16 vCPU: none", pod(app({ cpu: "16001m" })), undefined],
    ["120 GiB + 256 MiB: none", pod(app({ memory: "120Gi" })), undefined],
    [
      "app containers are added up",
      pod(app({ cpu: "1" }), app({ cpu: "1500m" }, { name: "b" })),
      { vcpu: 4, memoryGiB: 8 },
    ],
    [
      "the largest init container counts when it is larger",
      {
        initContainers: [app({ cpu: "2", memory: "1Gi" }, { name: "init" })],
        containers: [app({ cpu: "500m" })],
      },
      { vcpu: 2, memoryGiB: 4 },
    ],
    [
      "a sidecar (restartable init container) runs with the app",
      {
        initContainers: [app({ cpu: "500m" }, { name: "proxy", restartPolicy: "Always" })],
        containers: [app({ cpu: "500m" })],
      },
      { vcpu: 1, memoryGiB: 2 },
    ],
    [
      "a limit without a request counts as the request",
      pod({ name: "app", resources: { limits: { cpu: "2", memory: "4Gi" } } }),
      { vcpu: 2, memoryGiB: 5 },
    ],
  ])("%s", (_name, spec, size) => {
    expect(fargateSize(spec)).toEqual(size);
  });
});
