// What following moves counts: rollouts and recoveries, the time to healthy, each move against its
// interruption's clock, drain guards, and the drift pass's repairs.
import { COMPUTE_TYPES, isOffSpot } from "../../core/contract.ts";
import type { MetricFactory } from "../metricFactory.ts";

const OFF_SPOT = COMPUTE_TYPES.filter(isOffSpot);

export const DRAIN_GUARD_RESULTS = [
  "created",
  "released-verdict",
  "released-deadline",
  "released-leftover",
  "user-pdb",
  "too-late",
  "nothing-on-node",
  "failed",
] as const;

export function movesMetrics(m: MetricFactory) {
  return {
    timeToHealthy: m.histogram(
      "time_to_healthy_seconds",
      "Time from a flip to the Deployment being healthy on its new compute",
      [5, 10, 20, 30, 45, 60, 90, 120, 180, 300],
      { compute: COMPUTE_TYPES },
    ),
    moveReady: m.histogram(
      "move_ready_seconds",
      "Time from an interruption event (its time at AWS) to the move's healthy verdict: every replica Ready off spot, by compute and reason",
      [15, 30, 45, 60, 75, 90, 105, 120, 150, 180, 240, 300],
      { compute: [], reason: [] },
    ),
    moveDeadline: m.counter(
      "move_deadline_total",
      "Moves off spot that were healthy before (met) or after (missed) their node's deadline, by compute and reason",
      { compute: OFF_SPOT, reason: ["spot-interruption"], result: ["met", "missed"] },
    ),
    lateHealthy: m.counter(
      "late_healthy_total",
      "Moves off spot whose verdict said not done in time, healthy within migration.late_healthy_grace after it (rollout corrected to healthy), by compute",
      { compute: OFF_SPOT },
    ),
    drainGuards: m.counter(
      "drain_guards_total",
      "Drain guards (a PodDisruptionBudget over a moving Deployment's pods) by what became of them",
      { result: DRAIN_GUARD_RESULTS },
    ),
    rollouts: m.counter("rollouts_total", "Followed rollouts by target compute and outcome", {
      compute: COMPUTE_TYPES,
      result: ["healthy", "failed"],
    }),
    recoveries: m.counter(
      "recoveries_total",
      "Recovery attempts to spot by outcome (recovered, rolled-back)",
      {
        result: ["recovered", "rolled-back"],
      },
    ),
    driftRepairs: m.counter(
      "drift_repairs_total",
      "Deployments whose template was repaired to match their compute annotation",
    ),
    applyReverts: m.counter(
      "apply_guard_restored_total",
      "Deployments an apply moved back to spot while the webhook was down, kept by the orchestrator off " +
        "spot and restored there by the drift pass (rule apply-never-undoes-a-move), by compute",
      { compute: OFF_SPOT },
    ),
  };
}
