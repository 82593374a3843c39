import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { statusCodeOf } from "../cluster/api-errors.ts";
import type { FargateProfile } from "./profiles.ts";

// The emulator runs in the test runner's main process and tests run in workers, so the profiles live
// in the cluster, where both (and kubectl) can see them.
export const profileStore = { namespace: "kube-system", name: "eks-fargate-profiles", key: "profiles.json" };

export interface FargateProfiles {
  get(): Promise<FargateProfile[]>;
  /** Replaces every profile. */
  set(profiles: FargateProfile[]): Promise<void>;
  /** Adds or replaces the profile with that name. */
  add(profile: FargateProfile): Promise<void>;
  remove(name: string): Promise<void>;
}

/** The cluster's Fargate profiles, as `aws eks create-fargate-profile` would maintain them. */
export function fargateProfiles(kc: KubeConfig): FargateProfiles {
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace, name, key } = profileStore;

  async function read(): Promise<{ map?: V1ConfigMap; profiles: FargateProfile[] }> {
    try {
      const map = await core.readNamespacedConfigMap({ namespace, name });
      return { map, profiles: JSON.parse(map.data?.[key] ?? "[]") as FargateProfile[] };
    } catch (err) {
      if (statusCodeOf(err) === 404) return { profiles: [] };
      throw err;
    }
  }

  async function update(change: (profiles: FargateProfile[]) => FargateProfile[]): Promise<void> {
    for (;;) {
      const { map, profiles } = await read();
      const body: V1ConfigMap = {
        metadata: { name, namespace, resourceVersion: map?.metadata?.resourceVersion },
        data: { [key]: JSON.stringify(change(profiles), null, 2) },
      };
      try {
        if (map) await core.replaceNamespacedConfigMap({ namespace, name, body });
        else await core.createNamespacedConfigMap({ namespace, body });
        return;
      } catch (err) {
        if (statusCodeOf(err) !== 409) throw err; // lost a race with another writer: reread and retry
      }
    }
  }

  return {
    get: async () => (await read()).profiles,
    set: (profiles) => update(() => profiles),
    add: (profile) => update((profiles) => [...profiles.filter((p) => p.name !== profile.name), profile]),
    remove: (profileName) => update((profiles) => profiles.filter((p) => p.name !== profileName)),
  };
}
