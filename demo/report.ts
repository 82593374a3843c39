// The self-contained HTML report: the timeline chart, the timings, the step list, and the raw timeline as
// JSON (`<script type="application/json" id="timeline">`) for tools and tests. No external assets.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { chartColors, escapeHtml, timelineSvg, type Band } from "./chart.ts";
import { stamp, type Step } from "./narrator.ts";
import type { Sample } from "./sampler.ts";
import type { DemoSummary } from "./summary.ts";

export interface Timeline {
  /** Epoch milliseconds the demo started; every `t`/`at` below counts from it. */
  startedAt: number;
  samples: Sample[];
  steps: Step[];
  /** Steps from the drill on (numbered on the chart). */
  drillSteps: Step[];
  /** When each step of the drill happened (milliseconds since the start). */
  milestones: Record<string, number>;
  /** Spans shaded on the chart (milliseconds since the start). */
  bands: Band[];
  summary: DemoSummary;
}

export async function writeReport(path: string, timeline: Timeline): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderReport(timeline));
}

export function renderReport(timeline: Timeline): string {
  const { summary } = timeline;
  const markers = timeline.drillSteps.map((s) => ({ t: s.at, label: s.text }));
  const check = (ok: boolean, text: string) =>
    `<li class="${ok ? "ok" : "bad"}">${ok ? "✓" : "✗"} ${escapeHtml(text)}</li>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>spot-fargate-orchestrator demo</title>
${reportStyle}
</head>
<body>
<h1>Spot interruption drill: ${escapeHtml(summary.interruptedNode)}</h1>
<p class="meta">${escapeHtml(new Date(timeline.startedAt).toISOString())} · namespace ${escapeHtml(summary.namespace)} · ${summary.replicas} replicas</p>
<ul class="checks">
  ${check(summary.endedOnSpot, "ended on spot")}
  ${check(summary.placementRestored, "original placement restored")}
  ${check(summary.minReadyEndpoints > 0, `never without a ready endpoint (fewest: ${summary.minReadyEndpoints} of ${summary.replicas})`)}
</ul>
<h2>Ready replicas by compute type</h2>
<p class="legend">
  <span><i class="swatch" style="background:${chartColors.spot}"></i>spot</span>
  <span><i class="swatch" style="background:${chartColors.fargate}"></i>Fargate</span>
  <span><i class="swatch" style="border-top:3px dashed ${chartColors.endpoints};height:0"></i>ready endpoints</span>
  <span>① … numbered steps below</span>
</p>
${timelineSvg(timeline.samples, markers, timeline.bands)}
<h2>Timings</h2>
<table>
${timingRows(summary)}
</table>
<h2>Steps</h2>
<ol class="steps">
${stepItems(timeline)}
</ol>
<script type="application/json" id="timeline">${jsonForHtml(timeline)}</script>
<script type="application/json" id="summary">${jsonForHtml(summary)}</script>
</body>
</html>
`;
}

const reportStyle = `<style>
  body { font-family: system-ui, sans-serif; color: #2d3748; max-width: 1040px; margin: 24px auto; padding: 0 16px; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  h2 { font-size: 17px; margin-top: 28px; }
  .meta { color: #718096; margin-top: 0; }
  ul.checks { list-style: none; padding: 0; display: flex; gap: 24px; flex-wrap: wrap; }
  .ok { color: #2f855a; font-weight: 600; }
  .bad { color: #c53030; font-weight: 600; }
  .legend span { display: inline-block; margin-right: 18px; }
  .swatch { display: inline-block; width: 14px; height: 10px; margin-right: 6px; vertical-align: middle; }
  table { border-collapse: collapse; }
  td, th { padding: 4px 12px; border-bottom: 1px solid #e2e8f0; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  ol.steps { list-style: none; padding: 0; font-family: ui-monospace, monospace; font-size: 13px; }
  ol.steps li { padding: 2px 0; }
  .n { display: inline-block; width: 2.2em; color: #718096; }
  svg { width: 100%; height: auto; }
</style>`;

function timingRows(summary: DemoSummary): string {
  return summary.timings
    .map((t) => `<tr><td>${escapeHtml(t.label)}</td><td class="num">${escapeHtml(t.value)}</td></tr>`)
    .join("\n");
}

/** Every step with its time; the drill's numbered as on the chart. */
function stepItems(timeline: Timeline): string {
  const drillIndex = new Map(timeline.drillSteps.map((s, i) => [s, i + 1]));
  return timeline.steps
    .map((s) => {
      const n = drillIndex.get(s);
      return `<li><span class="n">${n === undefined ? "" : n}</span>${escapeHtml(stamp(s.at))} ${escapeHtml(s.text)}</li>`;
    })
    .join("\n");
}

/** JSON that cannot end its <script> element early. */
function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** The JSON of the element with that id in a report (what the test reads). */
export function extractJson(html: string, id: string): unknown {
  const match = new RegExp(`<script type="application/json" id="${id}">([\\s\\S]*?)</script>`).exec(html);
  if (!match?.[1]) throw new Error(`the report has no <script type="application/json" id="${id}">`);
  return JSON.parse(match[1]);
}
