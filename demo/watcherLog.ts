// Follows the watcher's JSON log file, so the demo can tell when the watcher did something (received an
// event, found spot capacity) and at what time, by the watcher's own clock.
import { open, type FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";

export interface LogEntry {
  /** Epoch milliseconds of the entry's `time`. */
  at: number;
  msg: string;
  level: string;
  fields: Record<string, unknown>;
}

export class LogFollower {
  readonly entries: LogEntry[] = [];
  private readonly path: string;
  private offset = 0;
  private partial = "";
  private readonly decoder = new StringDecoder("utf8");
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  start(intervalMs = 100): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run(intervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The first entry (already read or still to come) that matches, within `timeoutMs`. */
  async find(description: string, match: (entry: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs / 1000}s waiting for the watcher to log ${description}`);
      }
      await sleep(100);
    }
  }

  private async run(intervalMs: number): Promise<void> {
    let file: FileHandle | undefined;
    try {
      while (this.running) {
        file ??= await open(this.path, "r").catch(() => undefined);
        if (file) await this.readNew(file);
        await sleep(intervalMs);
      }
      if (file) await this.readNew(file);
    } finally {
      await file?.close();
    }
  }

  private async readNew(file: FileHandle): Promise<void> {
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const lines = (this.partial + this.decoder.write(buffer.subarray(0, bytesRead))).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        const entry = parseLine(line);
        if (entry) this.entries.push(entry);
      }
    }
  }
}

function parseLine(line: string): LogEntry | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const fields = JSON.parse(line) as Record<string, unknown>;
    const at = Date.parse(String(fields["time"]));
    return {
      at: Number.isNaN(at) ? Date.now() : at,
      msg: String(fields["msg"] ?? ""),
      level: String(fields["level"] ?? ""),
      fields,
    };
  } catch {
    return undefined;
  }
}
