// Every real sample message kept beside the repository (../shared/fixtures/aws-events/real/, read in place):
// what the parser and the event's action make of it. One row per file, so a new sample is a new row. Each
// sample's .source.txt says where it comes from, what AWS Node Termination Handler or Karpenter does with it
// (`upstream:`) and what the orchestrator should do (`expect:`). Where the orchestrator decides otherwise on
// purpose, than that line or than upstream, the decision and its reason are in DECISIONS below.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { PermanentError } from "../../core/errors.ts";
import { parseTime } from "../../core/time.ts";
import { eventAction } from "../migration/eventAction.ts";
import { SPOT_NOTICE_MS, type InterruptionEvent } from "./interruptionEvent.ts";
import { parseMessageBody } from "./parseEvent.ts";

/**
 * The samples beside the repository (`../shared`), or where SHARED_FIXTURES_DIR says (a checkout elsewhere);
 * a missing folder fails the test by name.
 */
const REAL = process.env["SHARED_FIXTURES_DIR"]
  ? `${join(process.env["SHARED_FIXTURES_DIR"], "aws-events", "real")}/`
  : fileURLToPath(new URL("../../../shared/fixtures/aws-events/real/", import.meta.url));

/**
 * What the orchestrator does with a sample where it differs from the sample's `expect:` line (`outcome`, in
 * that line's words) or from what upstream does (`why` alone); `skippedAs`: the PermanentError kind a
 * skipped sample is deleted with.
 */
interface Decision {
  outcome?: string;
  skippedAs?: string;
  why?: string;
}

const DECISIONS: Record<string, Decision> = {
  "karpenter-capacity-reservation-interruption": {
    outcome: "act capacity-reservation-interruption i-0a1b2c3d4e5f60730 deadline=2026-08-21T23:35:55.123Z",
    why:
      "an interruptible Capacity Reservation's instance is terminated two minutes after this warning, as a " +
      "spot instance is after its own: its Deployments move to Fargate the same way (Karpenter acts too)",
  },
  "karpenter-state-change-stopped": {
    outcome: "act instance-stopping i-0a1b2c3d4e5f60711",
    why:
      "the instance is down: what is left of its pods is dead, and moving it starts every replacement at " +
      "once instead of after the node controller's eviction (NTH and Karpenter act too); the stack's rule " +
      "sends stopping and shutting-down only, so this comes from a rule of one's own",
  },
  "karpenter-state-change-terminated": {
    outcome: "act instance-stopping i-0a1b2c3d4e5f60710",
    why: "as stopped: the instance is gone, what remains of its Deployments' pods is moved at once",
  },
  "karpenter-design-spot-itn": {
    skippedAs: "invalid",
    why: "i-0123456789 cannot name an EC2 instance (8 or 17 hex digits); Karpenter does not check the id",
  },
  "karpenter-spot-itn-fake-id": {
    skippedAs: "invalid",
    why: "a mixed-case 17-character id is a test artefact no instance has; Karpenter does not check the id",
  },
  "karpenter-scheduled-change": {
    why:
      "alert only: an empty eventTypeCode does not say the change retires, stops, reboots or maintains the " +
      "instance (Karpenter acts on any scheduled change of EC2)",
  },
  "nth-rebalance-recommendation": {
    why:
      "alert only by default (migration.rebalance_action=alert): a recommendation is no notice, and moving " +
      "on every one would keep Deployments off spot (NTH cordons and taints the node)",
  },
  "nth-asg-launch-lifecycle": {
    skippedAs: "unknown-type",
    why: "a launch takes no instance away; NTH completes launch hooks once its node is ready, which is not the orchestrator's job",
  },
  "healthtools-ec2-issue-store-drive": { skippedAs: "ignored-health-event" },
  "nth-asg-direct-to-sqs-test-notification": { skippedAs: "ignored-transition" },
  "nth-asg-test-notification-eventbridge": { skippedAs: "ignored-transition" },
  "nth-state-change-pending": { skippedAs: "ignored-state" },
  "sns-real-state-change-running": { skippedAs: "ignored-state" },
};

interface Sample {
  name: string;
  body: string;
  expectLine: string | undefined;
  upstream: "act" | "skip" | "none";
}

function readSamples(): Sample[] {
  if (!existsSync(REAL)) throw new Error(`the real samples are not at ${REAL}`);
  return readdirSync(REAL)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      const name = file.slice(0, -".json".length);
      const sourcePath = `${REAL}${name}.source.txt`;
      const source = existsSync(sourcePath) ? readFileSync(sourcePath, "utf8") : "";
      const field = (key: string) => source.match(new RegExp(`^${key}:\\s*(.*)$`, "m"))?.[1]?.trim();
      const upstream = field("upstream") ?? "";
      return {
        name,
        body: readFileSync(`${REAL}${file}`, "utf8"),
        expectLine: field("expect"),
        upstream: /\bskips?\b/i.test(upstream)
          ? "skip"
          : /\b(acts|would act|handles)\b/i.test(upstream)
            ? "act"
            : "none",
      };
    });
}

/** An `expect:` line: `act <kind> <instance> [deadline=<time>|arrival+2m|none]`, or `skip`. */
type Expected =
  { act: false } | { act: true; kind: string; instanceId: string; deadline: string | undefined };

function parseExpected(line: string): Expected {
  const [verb, kind, instanceId, ...rest] = line.split(/\s+/);
  if (verb === "skip" && kind === undefined) return { act: false };
  if (verb !== "act" || kind === undefined || instanceId === undefined || rest.length > 1) {
    throw new Error(`"${line}" is neither "skip" nor "act <kind> <instance> [deadline=...]"`);
  }
  const deadline = rest[0]?.match(/^deadline=(.+)$/)?.[1];
  if (rest.length === 1 && deadline === undefined) throw new Error(`"${rest[0]}" is not deadline=...`);
  return { act: true, kind, instanceId, deadline };
}

/** The message itself: an SNS notification's Message, else the body. */
function messageOf(body: string): Record<string, unknown> {
  const outer = JSON.parse(body) as Record<string, unknown>;
  return outer["Type"] === "Notification"
    ? (JSON.parse(String(outer["Message"])) as Record<string, unknown>)
    : outer;
}

type Outcome =
  | { act: true; event: InterruptionEvent; action: "migrate" | "alert" }
  | { act: false; error: PermanentError };

function outcomeOf(body: string): Outcome {
  try {
    const event = parseMessageBody(body);
    return { act: true, event, action: eventAction(event, loadConfig({ env: {} }).migration).action };
  } catch (err) {
    if (err instanceof PermanentError) return { act: false, error: err };
    throw err;
  }
}

/** Kinds of the watcher that say nothing goes away are ignored; what is not one of its events is dropped. */
const describeSkip = (kind: string) => `${kind.startsWith("ignored-") ? "ignore" : "drop"} (${kind})`;

const samples = readSamples();

describe("the real AWS event samples", () => {
  it("are all there, each with an expectation, and every decision names a sample", () => {
    expect(samples.length).toBeGreaterThanOrEqual(29);
    expect(samples.filter((s) => s.expectLine === undefined).map((s) => s.name)).toEqual([]);
    const names = new Set(samples.map((s) => s.name));
    expect(Object.keys(DECISIONS).filter((name) => !names.has(name))).toEqual([]);
  });

  const rows = samples.map((s) => [s.name, DECISIONS[s.name]?.outcome ?? s.expectLine, s] as const);
  it.each(rows)("%s: %s", (_, __, sample) => {
    const decision = DECISIONS[sample.name] ?? {};
    const line = decision.outcome ?? sample.expectLine;
    if (line === undefined) throw new Error(`${sample.name}.source.txt has no expect: line`);
    const expected = parseExpected(line);
    if (decision.outcome !== undefined) expect(decision.why, "a decision needs its reason").toBeDefined();
    const arrival = Date.now();
    const outcome = outcomeOf(sample.body);

    if (!expected.act) {
      expect(outcome.act ? `act ${outcome.event.kind}` : "skip").toBe("skip");
      if (outcome.act) return;
      expect(decision.skippedAs, `name the PermanentError kind ${sample.name} is skipped with`).toBeDefined();
      expect(describeSkip(outcome.error.kind)).toBe(describeSkip(decision.skippedAs!));
      if (sample.upstream === "act") expect(decision.why, "upstream acts: say why not").toBeDefined();
      return;
    }

    if (!outcome.act) throw new Error(`expected ${line}, got ${describeSkip(outcome.error.kind)}`);
    const { event, action } = outcome;
    expect({ kind: event.kind, instanceId: event.instanceId }).toEqual({
      kind: expected.kind,
      instanceId: expected.instanceId,
    });
    // the event's time: the envelope's (a hook notification's Time), else its arrival
    const message = messageOf(sample.body);
    const sentAt = parseTime(message["time"] ?? message["Time"]);
    if (sentAt === undefined) expect(event.time.getTime()).toBeGreaterThanOrEqual(arrival);
    else expect(event.time.getTime()).toBe(sentAt);
    if (expected.deadline === undefined || expected.deadline === "none") {
      expect(event.deadline).toBeUndefined();
    } else if (expected.deadline === "arrival+2m") {
      expect(sentAt).toBeUndefined();
      expect(event.deadline!.getTime() - event.time.getTime()).toBe(SPOT_NOTICE_MS);
    } else {
      expect(event.deadline?.toISOString()).toBe(new Date(expected.deadline).toISOString());
    }
    if (event.kind === "asg-termination") {
      // what completing the lifecycle action needs
      expect(Object.values(event.lifecycle).every((v) => v !== "")).toBe(true);
    }
    if (action === "alert" && sample.upstream === "act") {
      expect(decision.why, "upstream acts, the orchestrator only alerts: say why").toBeDefined();
    }
    if (sample.upstream === "skip") expect(decision.why, "upstream skips it: say why it acts").toBeDefined();
  });
});
