// The layout of the Slack messages: Block Kit blocks with a plain-text fallback, Slack's limits respected.
import { keyOf, type DeploymentRef } from "../moves/deployments.ts";
import { describeEvent, type InterruptionEvent, type EventKind } from "../sqs/interruptionEvent.ts";
import type { InterruptionAlert, SummaryAlert } from "./alerter.ts";

export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
}

type SlackText = { type: "mrkdwn" | "plain_text"; text: string };
type SlackBlock =
  | { type: "header"; text: SlackText }
  | { type: "section"; text?: SlackText; fields?: SlackText[] }
  | { type: "context"; elements: SlackText[] };

const HEADLINES: Record<EventKind, { emoji: string; title: string }> = {
  "spot-interruption": { emoji: ":rotating_light:", title: "Spot interruption warning" },
  "capacity-reservation-interruption": {
    emoji: ":rotating_light:",
    title: "Capacity Reservation interruption warning",
  },
  "rebalance-recommendation": { emoji: ":warning:", title: "Rebalance recommendation" },
  "instance-stopping": { emoji: ":rotating_light:", title: "Instance stopping" },
  "scheduled-change": { emoji: ":calendar:", title: "Scheduled change" },
  "asg-termination": { emoji: ":rotating_light:", title: "Auto Scaling termination" },
};

const MAX_LISTED = 20;
const DRY_RUN = "[DRY RUN] ";

/** How the cluster is named in a message's markdown and in its plain-text fallback. */
interface ClusterNames {
  markdown: string;
  plain: string;
}

export function messageFormat(clusterName?: string) {
  const cluster: ClusterNames = {
    markdown: clusterName ? ` in *${escape(clusterName)}*` : "",
    plain: clusterName ? ` in ${clusterName}` : "",
  };
  return {
    interruption: (alert: InterruptionAlert): SlackMessage => interruptionMessage(alert, cluster),

    summary({ title, ok, lines, eventId }: SummaryAlert): SlackMessage {
      const emoji = ok ? ":white_check_mark:" : ":x:";
      const blocks: SlackBlock[] = [section(`${emoji} *${escape(title)}*${cluster.markdown}`)];
      if (lines.length > 0) blocks.push(section(bullets(lines.map(escape))));
      if (eventId) blocks.push(context(`Event \`${escape(eventId)}\``));
      return { text: `${emoji} ${title}${cluster.plain}`, blocks };
    },

    /** The alerts held back by the per-minute limit, in one message: each one's headline. */
    digest(held: string[]): SlackMessage {
      const title = `${held.length} alert${held.length === 1 ? "" : "s"} held back by the alerts per minute limit (alerts.max_per_minute)`;
      const lines = held.map((text) => escape(truncate(text.split("\n")[0] ?? "", 140)));
      return {
        text: `:warning: ${title}${cluster.plain}`,
        blocks: [section(`:warning: *${title}*${cluster.markdown}`), section(bullets(lines))],
      };
    },

    problem(message: string, details: Record<string, string> = {}): SlackMessage {
      const blocks: SlackBlock[] = [
        { type: "header", text: { type: "plain_text", text: truncate(`:x: Problem${cluster.plain}`, 150) } },
        section(`*${escape(message)}*`),
      ];
      const fields = Object.entries(details).map(([k, v]) =>
        mrkdwn(truncate(`*${escape(k)}*\n${escape(v)}`, 2000)),
      );
      // Slack takes at most 10 fields a section.
      for (let i = 0; i < fields.length; i += 10)
        blocks.push({ type: "section", fields: fields.slice(i, i + 10) });
      return { text: `:x: Problem${cluster.plain}: ${message}`, blocks };
    },
  };
}

/** One message per interruption: what moves where, what was skipped and why, the node and its deadline. */
function interruptionMessage(alert: InterruptionAlert, cluster: ClusterNames): SlackMessage {
  const { event, node, deployments, onDemand = [], skipped, budget, dryRun } = alert;
  const { emoji, title } = HEADLINES[event.kind];
  const dry = dryRun ? DRY_RUN : "";
  const verb = dryRun ? "would move" : "moving";
  const moving = `${deployments.length} Deployment${deployments.length === 1 ? "" : "s"} ${verb} to Fargate`;
  const onDemandNote = onDemand.length > 0 ? `, ${onDemand.length} to on-demand nodes` : "";
  const skipNote = skipped.length > 0 ? `, ${skipped.length} skipped` : "";
  const summary = `${moving}${onDemandNote}${skipNote}`;
  const blocks: SlackBlock[] = [
    section(`${emoji} *${dry}${title}*${cluster.markdown}: node \`${escape(node)}\` — ${summary}`),
    {
      type: "section",
      fields: [
        mrkdwn(`*Node*\n\`${escape(node)}\``),
        mrkdwn(
          `*Instance*\n\`${escape(event.instanceId)}\`${event.region ? ` (${escape(event.region)})` : ""}`,
        ),
        mrkdwn(`*Deadline*\n${deadline(event)}`),
        mrkdwn(`*Event*\n${escape(describeEvent(event))}\n\`${escape(event.id)}\``),
      ],
    },
  ];
  const listed = (items: { deployment: DeploymentRef; why: string }[]) =>
    bullets(items.map((s) => `\`${escape(keyOf(s.deployment))}\`: ${escape(s.why)}`));
  const move = dryRun ? "Would move" : "Moving";
  if (deployments.length > 0) {
    const names = deployments.map((d) => `\`${escape(keyOf(d))}\``);
    blocks.push(section(`*${move} to Fargate*\n${bullets(names)}`));
  }
  if (onDemand.length > 0) blocks.push(section(`*${move} to on-demand nodes*\n${listed(onDemand)}`));
  if (skipped.length > 0) blocks.push(section(`*Skipped*\n${listed(skipped)}`));
  if (budget !== undefined) blocks.push(context(`Fargate budget: ${escape(budget)}`));
  if (dryRun) blocks.push(context(":information_source: Dry run: no Deployment was changed."));
  const reclaimed = event.deadline ? `; reclaimed at ${event.deadline.toISOString()}` : "";
  return {
    text: `${emoji} ${dry}${title}${cluster.plain}: node ${node} (${event.instanceId}), ${summary}${reclaimed}`,
    blocks,
  };
}

function deadline(event: InterruptionEvent): string {
  if (!event.deadline) return "not given";
  const seconds = Math.floor(event.deadline.getTime() / 1000);
  // Slack shows the date in the reader's time zone; the ISO time is the fallback.
  return `<!date^${seconds}^{date_short_pretty} {time_secs}|${event.deadline.toISOString()}>`;
}

function bullets(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).map((item) => `• ${item}`);
  if (items.length > MAX_LISTED) shown.push(`…and ${items.length - MAX_LISTED} more`);
  return shown.join("\n");
}

function section(text: string): SlackBlock {
  return { type: "section", text: mrkdwn(truncate(text, 3000)) };
}

function context(text: string): SlackBlock {
  return { type: "context", elements: [mrkdwn(text)] };
}

function mrkdwn(text: string): SlackText {
  return { type: "mrkdwn", text };
}

/** Slack's mrkdwn control characters. */
function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The message with a note that `dropped` earlier alerts were dropped by the rate limit. */
export function withDroppedNote(message: SlackMessage, dropped: number): SlackMessage {
  if (dropped === 0) return message;
  const note = `${dropped} earlier alert${dropped === 1 ? " was" : "s were"} dropped by the alerts per minute limit (ALERTS_MAX_PER_MINUTE); see the watcher's logs.`;
  return {
    text: `${message.text}\n(${note})`,
    blocks: [...(message.blocks ?? []), { type: "context", elements: [mrkdwn(`:warning: ${note}`)] }],
  };
}
