// The Slack alerter against a real HTTP receiver on 127.0.0.1 playing Slack's incoming webhook.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { createWatcherMetrics } from "../metrics.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";
import { createAlerter, type AlerterOptions } from "./createAlerter.ts";
import { parseRetryAfter } from "./slack.ts";
import type { SlackMessage } from "./slackMessages.ts";

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (until the server closes). */
  hang?: boolean;
}

interface Received {
  at: number;
  contentType: string | undefined;
  message: SlackMessage;
}

/** Answers with `replies` in order, then 200 "ok" as Slack does. */
async function startReceiver(
  replies: Reply[] = [],
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        at: performance.now(),
        contentType: req.headers["content-type"],
        message: JSON.parse(Buffer.concat(chunks).toString("utf8")) as SlackMessage,
      });
      const reply = replies.shift() ?? { status: 200, body: "ok" };
      if (reply.hang) return;
      res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers }).end(reply.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`, received, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function alerter(options: Partial<AlerterOptions> & Pick<AlerterOptions, "webhookUrl">) {
  const metrics = createWatcherMetrics();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const slack = createAlerter({
    enabled: true,
    maxPerMinute: 20,
    log,
    metrics,
    retryBaseMs: 10,
    ...options,
  });
  const count = async (result: string) =>
    (await metrics.alerts.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { slack, metrics, lines, count };
}

const event: InterruptionEvent = {
  id: "1e5527d7-bb36-4607-3370-4164db56a40e",
  kind: "spot-interruption",
  detailType: "EC2 Spot Instance Interruption Warning",
  instanceId: "i-0b662ef9931388ba0",
  region: "us-east-1",
  account: "123456789012",
  time: new Date("2026-11-02T14:05:10Z"),
  deadline: new Date("2026-11-02T14:07:10Z"),
};

const interruption = (dryRun = false) => ({
  event,
  node: "ip-10-0-1-7.ec2.internal",
  deployments: [
    { namespace: "shop", name: "checkout" },
    { namespace: "shop", name: "cart" },
  ],
  skipped: [{ deployment: { namespace: "ml", name: "trainer" }, why: "requests a GPU (Fargate has none)" }],
  dryRun,
});

const allText = (message: SlackMessage) => JSON.stringify(message);

describe("the Slack alerter", () => {
  it("posts one message per interruption with everything an on-call needs, without making the caller wait", async () => {
    const receiver = await startReceiver();
    const { slack, count } = alerter({ webhookUrl: receiver.url, clusterName: "prod-eu" });

    slack.interruption(interruption());
    expect(receiver.received).toHaveLength(0);
    expect(await slack.flush(10_000)).toBe(true);

    expect(receiver.received).toHaveLength(1);
    const [{ message, contentType }] = receiver.received as [Received];
    expect(contentType).toBe("application/json");
    expect(message.text).toContain("Spot interruption warning in prod-eu");
    expect(message.text).toContain("ip-10-0-1-7.ec2.internal (i-0b662ef9931388ba0)");
    expect(message.text).toContain("2 Deployments moving to Fargate, 1 skipped");
    expect(message.text).toContain("2026-11-02T14:07:10.000Z");
    const text = allText(message);
    for (const expected of [
      "shop/checkout",
      "shop/cart",
      "ml/trainer`: requests a GPU (Fargate has none)",
      "1e5527d7-bb36-4607-3370-4164db56a40e",
      "<!date^1793628430^",
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain("DRY RUN");
    expect(await count("sent")).toBe(1);
  });

  it("names what moves to on-demand nodes instead of Fargate, and the Fargate budget's use", async () => {
    const receiver = await startReceiver();
    const { slack } = alerter({ webhookUrl: receiver.url });
    slack.interruption({
      ...interruption(),
      onDemand: [
        {
          deployment: { namespace: "shop", name: "search" },
          why: "over the Fargate budget: needs 2 vCPU, 1 of 16 left (fargate.max_vcpu)",
        },
      ],
      budget: "15.5 of 16 vCPU, 31 pods (no limit)",
    });
    await slack.flush(10_000);
    const [{ message }] = receiver.received as [Received];
    expect(message.text).toContain("2 Deployments moving to Fargate, 1 to on-demand nodes, 1 skipped");
    const text = allText(message);
    expect(text).toContain("*Moving to on-demand nodes*");
    expect(text).toContain(
      "shop/search`: over the Fargate budget: needs 2 vCPU, 1 of 16 left (fargate.max_vcpu)",
    );
    expect(text).toContain("Fargate budget: 15.5 of 16 vCPU, 31 pods (no limit)");
  });

  it("marks a dry run", async () => {
    const receiver = await startReceiver();
    const { slack } = alerter({ webhookUrl: receiver.url });
    slack.interruption(interruption(true));
    await slack.flush(10_000);
    const [{ message }] = receiver.received as [Received];
    expect(message.text).toMatch(/^:rotating_light: \[DRY RUN\] Spot interruption warning/);
    expect(message.text).toContain("would move to Fargate");
    expect(allText(message)).toContain("Dry run: no Deployment was changed.");
  });

  it("posts summaries and problems, in order, with Slack's control characters escaped", async () => {
    const receiver = await startReceiver();
    const { slack } = alerter({ webhookUrl: receiver.url });
    slack.summary({
      title: "Interruption of ip-10-0-1-7 handled",
      ok: true,
      lines: ["shop/cart healthy on fargate"],
      eventId: event.id,
    });
    slack.summary({
      title: "Interruption of ip-10-0-1-7 failed",
      ok: false,
      lines: ["shop/cart: rollout timed out"],
    });
    slack.problem("Move of shop/cart failed: quota < 1 & retry", {
      deployment: "shop/cart",
      reason: "<none>",
    });
    await slack.flush(10_000);

    expect(receiver.received.map((r) => r.message.text)).toEqual([
      ":white_check_mark: Interruption of ip-10-0-1-7 handled",
      ":x: Interruption of ip-10-0-1-7 failed",
      ":x: Problem: Move of shop/cart failed: quota < 1 & retry",
    ]);
    expect(allText(receiver.received[0]!.message)).toContain("shop/cart healthy on fargate");
    expect(allText(receiver.received[0]!.message)).toContain(event.id);
    const problem = allText(receiver.received[2]!.message);
    expect(problem).toContain("quota &lt; 1 &amp; retry");
    expect(problem).toContain("*reason*\\n&lt;none&gt;");
  });

  it("retries after a 500 and delivers the message once", async () => {
    const receiver = await startReceiver([{ status: 500, body: "internal_error" }]);
    const { slack, count, lines } = alerter({ webhookUrl: receiver.url });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(10_000)).toBe(true);

    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.message).toEqual(receiver.received[0]!.message);
    expect(await count("sent")).toBe(1);
    expect(await count("failed")).toBe(0);
    expect(lines.find((l) => l["msg"] === "Slack alert not delivered; retrying")).toMatchObject({
      problem: "HTTP 500: internal_error",
    });
  });

  it("waits as long as a 429's Retry-After asks before trying again", async () => {
    const receiver = await startReceiver([
      { status: 429, headers: { "retry-after": "1" }, body: "rate_limited" },
    ]);
    const { slack, count } = alerter({ webhookUrl: receiver.url, retryBaseMs: 1 });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(10_000)).toBe(true);

    expect(receiver.received).toHaveLength(2);
    // A lower bound only: the retry must not come before Slack allows it.
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(950);
    expect(await count("sent")).toBe(1);
  });

  it("gives up after a bounded number of tries and counts the failure", async () => {
    const receiver = await startReceiver(Array.from({ length: 10 }, () => ({ status: 503 })));
    const { slack, count } = alerter({ webhookUrl: receiver.url, maxAttempts: 3 });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(10_000)).toBe(true);
    expect(receiver.received).toHaveLength(3);
    expect(await count("failed")).toBe(1);
  });

  it("does not retry what Slack refuses for good (a revoked webhook)", async () => {
    const receiver = await startReceiver([{ status: 404, body: "no_service" }]);
    const { slack, count, lines } = alerter({ webhookUrl: receiver.url });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(10_000)).toBe(true);
    expect(receiver.received).toHaveLength(1);
    expect(await count("failed")).toBe(1);
    const error = lines.find((l) => l["msg"] === "Slack alert could not be delivered");
    expect(error).toMatchObject({ problem: "HTTP 404: no_service" });
    expect(JSON.stringify(lines)).not.toContain(receiver.url);
  });

  it("retries network errors", async () => {
    const closed = await startReceiver();
    const url = closed.url;
    closed.server.close();
    const { slack, count } = alerter({ webhookUrl: url, maxAttempts: 2 });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(10_000)).toBe(true);
    expect(await count("failed")).toBe(1);
  });

  it("holds messages over the per-minute limit and sends them as one digest as soon as the limit allows", async () => {
    let now = 0;
    const receiver = await startReceiver();
    const { slack, count } = alerter({ webhookUrl: receiver.url, maxPerMinute: 2, now: () => now });
    for (let i = 1; i <= 5; i++) slack.problem(`problem ${i}`);
    await slack.flush(10_000);
    // at a stop (flush), what is held goes out whatever the limit
    expect(receiver.received.map((r) => r.message.text)).toEqual([
      ":x: Problem: problem 1",
      ":x: Problem: problem 2",
      ":warning: 3 alerts held back by the alerts per minute limit (alerts.max_per_minute)",
    ]);
    for (const i of [3, 4, 5]) expect(allText(receiver.received[2]!.message)).toContain(`problem ${i}`);
    expect(await count("held")).toBe(3);
    expect(await count("dropped")).toBe(0);

    now = 60_001;
    slack.problem("problem 6");
    slack.problem("problem 7");
    slack.problem("problem 8");
    now = 120_002;
    slack.problem("problem 9"); // the digest of problem 8 goes first, then this one
    await slack.flush(10_000);
    expect(receiver.received.slice(3).map((r) => r.message.text)).toEqual([
      ":x: Problem: problem 6",
      ":x: Problem: problem 7",
      ":warning: 1 alert held back by the alerts per minute limit (alerts.max_per_minute)",
      ":x: Problem: problem 9",
    ]);
    expect(await count("sent")).toBe(7);
  });

  it("drops only beyond what the queue and the digest hold, and says so in the next message sent", async () => {
    let now = 0;
    const receiver = await startReceiver();
    const { slack, count } = alerter({
      webhookUrl: receiver.url,
      maxPerMinute: 1,
      maxHeld: 2,
      now: () => now,
    });
    for (let i = 1; i <= 5; i++) slack.problem(`problem ${i}`);
    expect(await count("held")).toBe(2);
    expect(await count("dropped")).toBe(2);
    now = 60_001;
    await slack.flush(10_000);
    expect(receiver.received).toHaveLength(2);
    expect(allText(receiver.received[1]!.message)).toContain("2 earlier alerts were dropped");
  });

  it("reports from flush() when messages are still pending at its timeout", async () => {
    const receiver = await startReceiver([{ status: 200, hang: true }]);
    const { slack } = alerter({ webhookUrl: receiver.url, requestTimeoutMs: 60_000 });
    slack.problem("rollback of shop/cart");
    expect(await slack.flush(100)).toBe(false);
  });

  it.each([
    { what: "without a webhook URL", webhookUrl: "", enabled: true },
    { what: "when disabled", webhookUrl: "set below", enabled: false },
  ])("only logs $what", async ({ webhookUrl, enabled }) => {
    const receiver = await startReceiver();
    const { slack, lines, count } = alerter({
      webhookUrl: webhookUrl === "" ? "" : receiver.url,
      enabled,
    });
    slack.interruption(interruption());
    slack.summary({ title: "done", ok: true, lines: [] });
    slack.problem("rollback of shop/cart", { deployment: "shop/cart" });
    expect(await slack.flush(1_000)).toBe(true);
    expect(receiver.received).toHaveLength(0);
    expect(await count("sent")).toBe(0);
    expect(lines.find((l) => l["alert"] === "interruption")).toMatchObject({
      node: "ip-10-0-1-7.ec2.internal",
      deployments: ["shop/checkout", "shop/cart"],
    });
    expect(lines.find((l) => l["alert"] === "problem")).toMatchObject({ deployment: "shop/cart", level: 40 });
  });
});

describe("parseRetryAfter", () => {
  it.each([
    { value: "3", ms: 3000 },
    { value: " 0 ", ms: 0 },
    { value: null, ms: undefined },
    { value: "", ms: undefined },
    { value: "soon", ms: undefined },
    { value: "Thu, 01 Jan 1970 00:00:00 GMT", ms: 0 },
  ])("$value → $ms", ({ value, ms }) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });
});
