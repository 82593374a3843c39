// The timeline chart as inline SVG: ready replicas stacked by compute type (spot, Fargate) over time, ready
// endpoints as a dashed line, and a numbered marker per step.
import type { Sample } from "./sampler.ts";

export interface Marker {
  /** Milliseconds since the demo started. */
  t: number;
  label: string;
}

/** A shaded span of time, e.g. the recovery cooldown. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

export const chartColors = { spot: "#2b6cb0", fargate: "#dd6b20", endpoints: "#2f855a", marker: "#718096" };

const size = { width: 1000, height: 380, left: 48, right: 16, top: 92, bottom: 40 };
const badgeRows = 4;
/** Marker badges closer than this (px) go on the next row up, so their numbers stay readable. */
const badgeSpacing = 20;

/** The chart's scales: the time and value ranges, and where a time or a value is drawn. */
interface Scales {
  t0: number;
  t1: number;
  maxY: number;
  plotW: number;
  plotH: number;
  x: (t: number) => number;
  y: (v: number) => number;
}

export function timelineSvg(samples: Sample[], markers: Marker[], bands: Band[] = []): string {
  if (samples.length === 0) return "<p>No samples were taken.</p>";
  const scales = scalesOf(samples);
  const parts = [
    ...bandRects(scales, bands),
    ...valueGrid(scales),
    ...timeTicks(scales),
    ...readyAreas(scales, samples),
    ...markerBadges(scales, markers),
    ...axes(scales),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size.width} ${size.height}" role="img" aria-label="ready replicas by compute type over time" font-family="system-ui, sans-serif" font-size="12" fill="#2d3748">`,
    ...parts,
    "</svg>",
  ].join("\n");
}

function scalesOf(samples: Sample[]): Scales {
  const t0 = samples[0]!.t;
  const t1 = Math.max(samples.at(-1)!.t, t0 + 1000);
  const maxY = Math.max(1, ...samples.map((s) => Math.max(s.spot + s.fargate + s.other, s.endpoints))) + 1;
  const plotW = size.width - size.left - size.right;
  const plotH = size.height - size.top - size.bottom;
  const x = (t: number) => size.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number) => size.top + plotH - (v / maxY) * plotH;
  return { t0, t1, maxY, plotW, plotH, x, y };
}

/** Shaded spans (the recovery cooldown), labelled at the top. */
function bandRects({ t0, t1, plotH, x }: Scales, bands: Band[]): string[] {
  const parts: string[] = [];
  for (const b of bands) {
    const from = x(Math.max(b.from, t0));
    const to = x(Math.min(b.to, t1));
    if (to <= from) continue;
    parts.push(
      `<rect x="${f(from)}" y="${size.top}" width="${f(to - from)}" height="${plotH}" fill="#edf2f7"><title>${escapeHtml(b.label)}</title></rect>`,
      `<text x="${f((from + to) / 2)}" y="${size.top + 14}" text-anchor="middle" fill="#4a5568">${escapeHtml(b.label)}</text>`,
    );
  }
  return parts;
}

/** A grid line and a label per replica count. */
function valueGrid({ maxY, y }: Scales): string[] {
  const parts: string[] = [];
  for (let v = 0; v <= maxY; v++) {
    parts.push(
      `<line x1="${size.left}" x2="${size.width - size.right}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#e2e8f0"/>`,
      `<text x="${size.left - 8}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`,
    );
  }
  return parts;
}

/** Ticks along the time axis, in whole seconds at a readable step. */
function timeTicks({ t0, t1, plotH, x }: Scales): string[] {
  const parts: string[] = [];
  const tick = niceStep((t1 - t0) / 1000 / 10);
  for (let s = Math.ceil(t0 / 1000 / tick) * tick; s * 1000 <= t1; s += tick) {
    parts.push(
      `<line x1="${f(x(s * 1000))}" x2="${f(x(s * 1000))}" y1="${size.top + plotH}" y2="${size.top + plotH + 5}" stroke="#4a5568"/>`,
      `<text x="${f(x(s * 1000))}" y="${size.top + plotH + 18}" text-anchor="middle">${s}s</text>`,
    );
  }
  return parts;
}

/** Ready replicas on spot and on Fargate, stacked, and ready endpoints as a dashed line. */
function readyAreas({ t1, x, y }: Scales, samples: Sample[]): string[] {
  const band = (lower: (s: Sample) => number, upper: (s: Sample) => number) => {
    const top = stepPoints(samples, upper, t1).map(([t, v]) => `${f(x(t))},${f(y(v))}`);
    const bottom = stepPoints(samples, lower, t1)
      .reverse()
      .map(([t, v]) => `${f(x(t))},${f(y(v))}`);
    return `M${top.join("L")}L${bottom.join("L")}Z`;
  };
  const line = (value: (s: Sample) => number) =>
    `M${stepPoints(samples, value, t1)
      .map(([t, v]) => `${f(x(t))},${f(y(v))}`)
      .join("L")}`;
  return [
    `<path d="${band(
      () => 0,
      (s) => s.spot,
    )}" fill="${chartColors.spot}" fill-opacity="0.75"><title>ready on spot</title></path>`,
    `<path d="${band(
      (s) => s.spot,
      (s) => s.spot + s.fargate,
    )}" fill="${chartColors.fargate}" fill-opacity="0.75"><title>ready on Fargate</title></path>`,
    `<path d="${line((s) => s.endpoints)}" fill="none" stroke="${chartColors.endpoints}" stroke-width="2.5" stroke-dasharray="6 4"><title>ready endpoints</title></path>`,
  ];
}

/** A numbered badge and a dotted line per step; badges too close to the last one go a row up. */
function markerBadges({ t0, t1, plotH, x }: Scales, markers: Marker[]): string[] {
  const parts: string[] = [];
  const rowEnds: number[] = [];
  markers.forEach((m, i) => {
    if (m.t < t0 || m.t > t1) return;
    const mx = x(m.t);
    let row = rowEnds.findIndex((end) => mx - end >= badgeSpacing);
    if (row === -1) row = Math.min(rowEnds.length, badgeRows - 1);
    rowEnds[row] = mx;
    const cy = size.top - 12 - row * badgeSpacing;
    parts.push(
      `<g><title>${escapeHtml(`${i + 1}. ${m.label}`)}</title>`,
      `<line x1="${f(mx)}" x2="${f(mx)}" y1="${f(cy + 9)}" y2="${size.top + plotH}" stroke="${chartColors.marker}" stroke-dasharray="2 3"/>`,
      `<circle cx="${f(mx)}" cy="${f(cy)}" r="9" fill="#fff" stroke="${chartColors.marker}"/>`,
      `<text x="${f(mx)}" y="${f(cy + 4)}" text-anchor="middle" font-size="10">${i + 1}</text></g>`,
    );
  });
  return parts;
}

/** The time axis and both axis titles. */
function axes({ plotW, plotH }: Scales): string[] {
  return [
    `<line x1="${size.left}" x2="${size.width - size.right}" y1="${size.top + plotH}" y2="${size.top + plotH}" stroke="#4a5568"/>`,
    `<text x="${size.left + plotW / 2}" y="${size.height - 4}" text-anchor="middle">time since the demo started</text>`,
    `<text x="12" y="${size.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 12 ${size.top + plotH / 2})">ready replicas</text>`,
  ];
}

/** Points of a step function: each sample's value holds until the next sample. */
function stepPoints(samples: Sample[], value: (s: Sample) => number, end: number): [number, number][] {
  const points: [number, number][] = [];
  samples.forEach((s, i) => {
    const next = samples[i + 1]?.t ?? end;
    points.push([s.t, value(s)], [next, value(s)]);
  });
  return points;
}

function niceStep(raw: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300]) if (step >= raw) return step;
  return 600;
}

function f(n: number): string {
  return n.toFixed(1);
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}
