// Nearest-rank percentiles over a handful of samples: with fewer than 100, p99 is the maximum.

export interface Summary {
  runs: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function summarize(samples: number[]): Summary {
  return {
    runs: samples.length,
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}
