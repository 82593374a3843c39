import type { V1PodSpec } from "@kubernetes/client-node";

/**
 * EKS's reason for refusing a pod on Fargate, worded as the Fargate scheduler words it
 * ("Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext fields:
 * Privileged, port contains HostIP or HostPort"), or undefined when the pod can run there.
 */
export function fargateIncompatibility(spec: V1PodSpec): string | undefined {
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const reasons: string[] = [];

  const hostFields = [
    spec.hostNetwork && "HostNetwork",
    spec.hostPID && "HostPID",
    spec.hostIPC && "HostIPC",
  ].filter((field): field is string => Boolean(field));
  if (hostFields.length) reasons.push(`fields not supported: ${hostFields.join(", ")}`);

  const privileged = containers.filter((c) => c.securityContext?.privileged).map(() => "Privileged");
  if (privileged.length) reasons.push(`invalid SecurityContext fields: ${privileged.join(",")}`);

  if (containers.some((c) => c.ports?.some((p) => p.hostPort || p.hostIP))) {
    reasons.push("port contains HostIP or HostPort");
  }

  const hostPathVolumes = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name);
  if (hostPathVolumes.length) {
    reasons.push(
      `volumes not supported: ${hostPathVolumes.map((name) => `${name} is of an unsupported volume Type`).join(", ")}`,
    );
  }

  return reasons.length ? `Pod not supported on Fargate: ${reasons.join(", ")}` : undefined;
}
