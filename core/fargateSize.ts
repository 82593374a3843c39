// The size AWS Fargate gives a pod, as the EKS user guide documents it ("Understand Fargate Pod configuration
// details", https://docs.aws.amazon.com/eks/latest/userguide/fargate-pod-configuration.html): the larger of the
// sum of the long-running containers' requests and the largest init container's request, plus 256 MiB of
// memory for the Kubernetes components (kubelet, kube-proxy, containerd), rounded up to the nearest vCPU and
// memory combination of AWS's table; no requests at all gives the smallest combination.
import type { V1PodSpec } from "@kubernetes/client-node";
import { GiB, MiB } from "./quantity.ts";
import { podRequests } from "./podRequests.ts";

export interface FargateSize {
  vcpu: number;
  memoryGiB: number;
}

/** Memory Fargate adds to every pod for the Kubernetes components. */
export const KUBERNETES_COMPONENTS_MEMORY = 256 * MiB;

function steps(from: number, to: number, step: number): number[] {
  return Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
}

/** AWS's vCPU and memory (GB, i.e. GiB: 0.5 GB is 512 MiB) combinations, smallest first. */
export const FARGATE_SIZES: readonly { vcpu: number; memoryGiB: readonly number[] }[] = [
  { vcpu: 0.25, memoryGiB: [0.5, 1, 2] },
  { vcpu: 0.5, memoryGiB: steps(1, 4, 1) },
  { vcpu: 1, memoryGiB: steps(2, 8, 1) },
  { vcpu: 2, memoryGiB: steps(4, 16, 1) },
  { vcpu: 4, memoryGiB: steps(8, 30, 1) },
  { vcpu: 8, memoryGiB: steps(16, 60, 4) },
  { vcpu: 16, memoryGiB: steps(32, 120, 8) },
];

export const LARGEST_FARGATE_SIZE: FargateSize = { vcpu: 16, memoryGiB: 120 };

/** What Fargate must provision for one pod of `spec`, before rounding: CPU in cores, memory in bytes. */
export function fargateNeeds(spec: V1PodSpec): { cpu: number; memory: number } {
  const { cpu, memory } = podRequests(spec);
  // whole millicores, as Kubernetes counts CPU (and free of the float sums' 0.30000000000000004)
  return { cpu: Math.ceil(Math.round(cpu * 1e6) / 1e3) / 1e3, memory: memory + KUBERNETES_COMPONENTS_MEMORY };
}

/** The combination Fargate runs one pod of `spec` on; undefined when it needs more than the largest. */
export function fargateSize(spec: V1PodSpec): FargateSize | undefined {
  const needs = fargateNeeds(spec);
  for (const { vcpu, memoryGiB } of FARGATE_SIZES) {
    if (vcpu < needs.cpu) continue;
    const memory = memoryGiB.find((gib) => gib * GiB >= needs.memory);
    if (memory !== undefined) return { vcpu, memoryGiB: memory };
  }
  return undefined;
}
