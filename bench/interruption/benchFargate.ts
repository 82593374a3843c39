// The Fargate the ready phase moves Deployments to: a Fargate emulator of the benchmark's own (the tests' global
// setup starts one for them; the benchmark has none otherwise) and a Fargate profile selecting the namespace's
// pods with the compute label a move to Fargate gives the pod template, with EKS's start-up time.
import type { KubeConfig } from "@kubernetes/client-node";
import { startFargateEmulator } from "../../harness/fargate/emulator.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import type { LaunchRate } from "../../harness/fargate/profiles.ts";
import type { StartupTime } from "../../harness/fargate/startup.ts";

export interface BenchFargate {
  profile: string;
  /** Removes the profile, then stops the emulator; once, however often called. */
  stop(): Promise<void>;
}

export async function startBenchFargate(
  kc: KubeConfig,
  namespace: string,
  podLabels: Record<string, string>,
  startup: StartupTime,
  /** A launch rate of the profile's own; without it, whichever emulator holds the webhook launches at its rate. */
  launchRate?: LaunchRate,
): Promise<BenchFargate> {
  const emulator = await startFargateEmulator(kc);
  const profile = `bench-${namespace}`;
  const profiles = fargateProfiles(kc);
  try {
    // the start-up lives on the profile (it wins over any emulator's default), so whichever emulator sharing
    // the cluster holds the webhook, this namespace's pods take EKS's time and the other suites' do not
    await profiles.add({
      name: profile,
      selectors: [{ namespace, labels: podLabels }],
      startup,
      ...(launchRate ? { launchRate } : {}),
    });
  } catch (err) {
    await emulator.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    try {
      await profiles.remove(profile);
    } finally {
      await emulator.close();
    }
  };
  return { profile, stop: () => (stopped ??= stop()) };
}
