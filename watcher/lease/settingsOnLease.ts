// The leader's effective recovery settings, kept on its Lease so that `spot-orchestrator status` computes
// the next recovery as the running watcher will, not from the defaults of the machine it runs on.
import type { V1Lease } from "@kubernetes/client-node";
import type { Config } from "../../core/config.ts";
import { PREFIX } from "../../core/contract.ts";
import { formatDuration } from "../../core/duration.ts";
import type { SettingKey } from "../../core/settings.ts";

const SETTINGS_ANNOTATION = `${PREFIX}recovery-settings`;

type RecoveryKey = Extract<SettingKey, `recovery.${string}`>;

/** The annotation the leader writes: `{"recovery.cooldown": "45m", ...}` (values as config.toml takes them). */
export function settingsAnnotations(config: Pick<Config, "recovery">): Record<string, string> {
  const { recovery } = config;
  const settings: Record<RecoveryKey, string> = {
    "recovery.enabled": String(recovery.enabled),
    "recovery.interval": duration(recovery.interval),
    "recovery.cooldown": duration(recovery.cooldown),
    "recovery.timeout": duration(recovery.timeout),
    "recovery.backoff_base": duration(recovery.backoffBase),
    "recovery.max_backoff": duration(recovery.maxBackoff),
    "recovery.max_concurrent": String(recovery.maxConcurrent),
  };
  return { [SETTINGS_ANNOTATION]: JSON.stringify(settings) };
}

/** The settings a leader wrote on its Lease, as `loadConfig` flags; undefined when there are none. */
export function settingsOnLease(lease: V1Lease | undefined): Partial<Record<SettingKey, string>> | undefined {
  const text = lease?.metadata?.annotations?.[SETTINGS_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const entries = Object.entries(value).filter(
      (entry): entry is [RecoveryKey, string] =>
        entry[0].startsWith("recovery.") && typeof entry[1] === "string",
    );
    return Object.fromEntries(entries);
  } catch {
    return undefined;
  }
}

/** Exact, and readable when it can be: `45m`, `1h30m`, `1500ms`. */
function duration(ms: number): string {
  return ms % 1000 === 0 && ms > 0 ? formatDuration(ms) : `${ms}ms`;
}
