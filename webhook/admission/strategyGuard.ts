// While a move rolls with the surge (core/moveStrategy.ts), the orchestrator owns `spec.strategy`: a write
// from anyone else (a GitOps re-apply, kubectl edit) neither undoes the surge nor ends it early. A strategy
// it sets is kept in the stash instead, so it is the one put back with the move's verdict. A person who
// changes `compute` during the move takes the move over: their move rolls with their own strategy.
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { isStashed, sameStrategy, stashedStrategy, strategyStash } from "../../core/moveStrategy.ts";
import type { DeploymentWrite } from "./deployment.ts";

export const STRATEGY_RULE = "a-move-owns-its-strategy";

/**
 * Applies the rule to `mutated` (the object as it will be stored) for a write by someone other than the
 * orchestrator; returns the warning the requester sees, if any.
 */
export function guardStrategy(
  write: DeploymentWrite,
  mutated: V1Deployment,
  computeChanged: boolean,
): string | undefined {
  const stored = write.oldObject;
  if (stored === undefined || !isStashed(stored)) return undefined;
  const sent = write.object.spec?.strategy;
  const changed = !sameStrategy(sent, stored.spec?.strategy);
  const annotations = ((mutated.metadata ??= {}).annotations ??= {});
  if (computeChanged) {
    // the person's move rolls their way: what they sent, else the strategy the product's move stashed
    const own = changed ? sent : stashedStrategy(stored);
    if (own !== undefined) mutated.spec!.strategy = own;
    delete annotations[Annotation.strategy];
    return undefined;
  }
  annotations[Annotation.strategy] = changed
    ? strategyStash(sent)
    : (stored.metadata?.annotations?.[Annotation.strategy] ?? "");
  if (!changed) return undefined;
  mutated.spec!.strategy = stored.spec?.strategy;
  return (
    `spec.strategy stays as the move rolls (rule ${STRATEGY_RULE}): the orchestrator is moving this ` +
    `Deployment with every replacement started at once and no pod removed before its replacement is Ready; ` +
    `the strategy you sent is kept in ${Annotation.strategy} and set when the move ends`
  );
}
