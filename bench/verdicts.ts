// A benchmark's figures, each beside the floor measured in the same run and its target, with PASS or MISS:
// the table both benchmarks print and the README quotes.

export interface Target {
  /** How the target reads, e.g. "≤ 1.25 × floor". */
  text: string;
  /** The bound the figure is held to, worked out from the floor where the target is relative. */
  limit: number;
  /** `true`: the figure must be at least the limit (throughput); otherwise at most. */
  atLeast?: boolean;
}

export interface Row {
  figure: string;
  value: number;
  unit: string;
  floor?: number | undefined;
  target?: Target | undefined;
  /** Decimals shown; by default 2 under 10, 1 under 100, none above. */
  digits?: number;
}

export function passes(row: Row): boolean | undefined {
  const { target, value } = row;
  if (target === undefined) return undefined;
  return target.atLeast === true ? value >= target.limit : value <= target.limit;
}

function amount(value: number | undefined, unit: string, fixed?: number): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  const digits = fixed ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  const number = value.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
  return unit ? `${number} ${unit}` : number;
}

/** The rows as an aligned table: figure │ measured │ floor │ target (limit) │ PASS/MISS. */
export function verdictTable(rows: readonly Row[]): string {
  const cells = rows.map((row) => {
    const pass = passes(row);
    return [
      row.figure,
      amount(row.value, row.unit, row.digits),
      amount(row.floor, row.unit, row.digits),
      row.target === undefined
        ? "-"
        : `${row.target.text} (${amount(row.target.limit, row.unit, row.digits)})`,
      pass === undefined ? "" : pass ? "PASS" : "MISS",
    ];
  });
  const header = ["figure", "measured", "floor", "target", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...cells.map(line)].join("\n");
}

/** Whether every row with a target met it. */
export function allPass(rows: readonly Row[]): boolean {
  return rows.every((row) => passes(row) !== false);
}
