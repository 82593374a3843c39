// PriorityClass values, for the order in which an interruption offers the Fargate budget.
import { classify, type Kube } from "../../core/kube.ts";

/** The value of a PriorityClass by name (a pod without one gets the global default's, or 0). */
export type ClassPriority = (priorityClassName: string | undefined) => number;

/**
 * The value each PriorityClass gives its pods; a pod without one gets the global default's (as the
 * Priority admission plugin does), and 0 when there is none.
 */
export async function priorityClasses(kube: Kube): Promise<ClassPriority> {
  let items;
  try {
    items = (await kube.scheduling.listPriorityClass()).items;
  } catch (err) {
    throw classify(err, "list priorityclasses");
  }
  const values = new Map(items.map((pc) => [pc.metadata?.name ?? "", pc.value]));
  const globalDefault = items.find((pc) => pc.globalDefault === true)?.value ?? 0;
  return (name) => (name === undefined || name === "" ? globalDefault : (values.get(name) ?? 0));
}
