// One line per step, stamped with the time since the demo started: `[  12.3s] event received ...`.
import { styleText } from "node:util";

export interface Step {
  /** Milliseconds since the demo started. */
  at: number;
  text: string;
}

type Style = Parameters<typeof styleText>[0];

export class Narrator {
  readonly startedAt: number;
  readonly steps: Step[] = [];
  private readonly write: (line: string) => void;

  constructor(options: { startedAt?: number; write?: (line: string) => void } = {}) {
    this.startedAt = options.startedAt ?? Date.now();
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
  }

  /** Milliseconds since the start, of `at` (an epoch time) or of now. */
  elapsed(at: number = Date.now()): number {
    return at - this.startedAt;
  }

  /** A step that happened at `at` (epoch ms; now by default), e.g. the time the watcher logged it. */
  step(text: string, at: number = Date.now(), mark = "•"): Step {
    const step = { at: this.elapsed(at), text };
    this.steps.push(step);
    this.write(`${styleText("dim", stamp(step.at))} ${mark} ${text}`);
    return step;
  }

  /** A detail under the last step, not part of the step list. */
  detail(text: string): void {
    this.write(`${" ".repeat(stamp(0).length)}     ${styleText("dim", text)}`);
  }

  success(text: string, at?: number): Step {
    return this.step(text, at, styleText("green", "✓"));
  }

  failure(text: string): void {
    this.write(`${styleText("red", stamp(this.elapsed()))} ${styleText(["red", "bold"], `✗ ${text}`)}`);
  }

  heading(text: string, style: Style = "bold"): void {
    this.write(`\n${styleText(style, text)}`);
  }

  plain(text = ""): void {
    this.write(text);
  }
}

export function stamp(ms: number): string {
  return `[${(ms / 1000).toFixed(1).padStart(6)}s]`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
