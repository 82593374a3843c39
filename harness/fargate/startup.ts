// How long a Fargate pod takes from binding to Ready. On EKS every pod gets a microVM of its own and pulls its
// images with no cache (EKS user guide, "AWS Fargate considerations"): users report 30–45 s for the node
// alone and over a minute in all (aws/containers-roadmap#649), about 60 s with a 250 MB image
// (aws/containers-roadmap#696). The emulator draws each pod's time and writes it on the pod; kwok's stages
// keep the pod starting that long (harness/cluster/kwok-stages.ts).
import { startupDelayAnnotation } from "../cluster/kwok-stages.ts";

/** A start-up time with jitter: each pod draws uniformly from [mean − jitter, mean + jitter]. */
export interface StartupTime {
  meanMs: number;
  jitterMs: number;
}

/** No wait at all: Ready as soon as bound (what suites that do not measure timings want). */
export const instantStartup: StartupTime = { meanMs: 0, jitterMs: 0 };

/** One pod's start-up time in whole milliseconds; `random` gives a number in [0, 1). */
export function drawStartupMs({ meanMs, jitterMs }: StartupTime, random: () => number = Math.random): number {
  return Math.max(0, Math.round(meanMs - jitterMs + random() * 2 * jitterMs));
}

/** The annotation that makes kwok hold the pod that long; none for no wait. */
export function startupAnnotations(ms: number): Record<string, string> {
  return ms > 0 ? { [startupDelayAnnotation]: `${ms}ms` } : {};
}
