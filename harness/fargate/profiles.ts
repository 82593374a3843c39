// Fargate profiles as EKS evaluates them: a pod runs on Fargate when its namespace and labels match
// one selector of a profile. Namespaces and labels accept the * and ? wildcards.
import type { StartupTime } from "./startup.ts";

/** An account's Fargate launch rate: pods a second, and how many may launch at once. */
export interface LaunchRate {
  perSecond: number;
  burst: number;
}

export interface FargateProfileSelector {
  namespace: string;
  labels?: Record<string, string>;
}

export interface FargateProfile {
  name: string;
  selectors: FargateProfileSelector[];
  /**
   * Emulation only: the account's limit on concurrent Fargate pods (see quota.ts), counted over this
   * profile's pods so that tests sharing a cluster keep their limits apart. Unset: no limit.
   */
  podQuota?: number;
  /** Emulation only: the account's limit on its Fargate pods' vCPUs (quota.ts), counted the same way. */
  vcpuQuota?: number;
  /**
   * Emulation only: how long this profile's pods take from binding to Ready (startup.ts), so that a suite
   * measuring it does not slow the others down. Unset: the emulator's default.
   */
  startup?: StartupTime;
  /** Emulation only: a launch rate of the profile's own (launch-rate.ts). Unset: the account's, shared. */
  launchRate?: LaunchRate;
}

/** Set by EKS on every pod it schedules to Fargate; a pod may also carry it to pick among matching profiles. */
export const fargateProfileLabel = "eks.amazonaws.com/fargate-profile";

/**
 * The profile a pod lands with, or undefined. When several match, a pod's own fargate-profile label
 * chooses; otherwise the first by name, so the outcome is deterministic.
 */
export function matchingProfile(
  profiles: readonly FargateProfile[],
  namespace: string,
  podLabels: Record<string, string> = {},
): FargateProfile | undefined {
  const matches = profiles
    .filter((profile) =>
      profile.selectors.some((selector) => selectorMatches(selector, namespace, podLabels)),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  const requested = podLabels[fargateProfileLabel];
  if (requested !== undefined) return matches.find((profile) => profile.name === requested);
  return matches[0];
}

function selectorMatches(
  selector: FargateProfileSelector,
  namespace: string,
  podLabels: Record<string, string>,
): boolean {
  if (!glob(selector.namespace).test(namespace)) return false;
  return Object.entries(selector.labels ?? {}).every(([key, value]) =>
    Object.entries(podLabels).some(
      ([podKey, podValue]) => glob(key).test(podKey) && glob(value).test(podValue),
    ),
  );
}

function glob(pattern: string): RegExp {
  const source = pattern
    .split("")
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}
