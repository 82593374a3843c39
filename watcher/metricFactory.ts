// How each area of the watcher declares its Prometheus series: on one registry, named
// `spot_orchestrator_<name>`, and started at 0 for every combination of the label values the area says it
// increments, so that rate() and increase() see the first increment of a process (an alert on
// `increase(...) > 0` would otherwise miss a process's first failure).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The label values a series is started at: every combination of them. */
export type Known<L extends string> = Readonly<Record<L, readonly string[]>>;

export interface MetricFactory {
  counter<L extends string = never>(name: string, help: string, known?: Known<L>): Counter<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    known?: Known<L>,
  ): Histogram<L>;
  /** A gauge's labels are set by what it measures; it starts at nothing (`labelNames`: its labels). */
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
}

/** Every combination of the known values, as label sets. */
function combinations<L extends string>(known: Known<L>): Record<L, string>[] {
  return Object.entries<readonly string[]>(known).reduce<Record<string, string>[]>(
    (sets, [label, values]) => sets.flatMap((set) => values.map((value) => ({ ...set, [label]: value }))),
    [{}],
  ) as Record<L, string>[];
}

export function metricFactory(registry: Registry): MetricFactory {
  const registers = [registry];
  const fullName = (name: string) => `spot_orchestrator_${name}`;
  return {
    counter<L extends string>(name: string, help: string, known?: Known<L>) {
      const labelNames = Object.keys(known ?? {}) as L[];
      const counter = new Counter<L>({ name: fullName(name), help, labelNames, registers });
      if (labelNames.length === 0) counter.inc(0);
      else for (const labels of combinations(known!)) counter.inc(labels, 0);
      return counter;
    },
    histogram<L extends string>(name: string, help: string, buckets: number[], known?: Known<L>) {
      const labelNames = Object.keys(known ?? {}) as L[];
      const histogram = new Histogram<L>({ name: fullName(name), help, buckets, labelNames, registers });
      if (labelNames.length > 0) for (const labels of combinations(known!)) histogram.zero(labels);
      return histogram;
    },
    gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
      return new Gauge<L>({ name: fullName(name), help, labelNames, registers });
    },
  };
}
