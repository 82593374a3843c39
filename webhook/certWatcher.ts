// Keeps the serving certificate current, as controller-runtime's certwatcher does: an fs.watch on the
// files' directories (kubelet swaps Secret volumes by renaming a symlink, which a watch on the file itself
// misses) plus a periodic poll, since watches are lossy on some filesystems. Every read and every failed
// read is counted, as certwatcher's read_certificate_total and read_certificate_errors_total.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../core/log.ts";
import { toError } from "../core/errors.ts";

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface CertWatcherMetrics {
  reads: Counter;
  readErrors: Counter;
}

/** The reload's series, on the webhook's registry; without labels, they start at 0. */
export function createCertWatcherMetrics(registry: Registry): CertWatcherMetrics {
  return {
    reads: new Counter({
      name: "spot_orchestrator_webhook_certificate_reads_total",
      help: "Reads of the serving certificate and key since start: on each change of their files and each poll",
      registers: [registry],
    }),
    readErrors: new Counter({
      name: "spot_orchestrator_webhook_certificate_read_errors_total",
      help:
        "Reads of the serving certificate and key that failed (a file missing or unreadable, a key that does " +
        "not match the certificate); the pair in use is kept",
      registers: [registry],
    }),
  };
}

export interface CertWatcherOptions {
  certFile: string;
  keyFile: string;
  log: Logger;
  /** The pair in use (from readKeyPair); only a different one is reported. */
  initial: KeyPair;
  /** Called with every new, valid pair. */
  onChange: (pair: KeyPair) => void;
  pollIntervalMs?: number;
  /** Where reads and failed reads are counted. */
  metrics?: CertWatcherMetrics | undefined;
}

/** Reads and checks a pair; throws when the files are missing or the key does not match the certificate. */
export async function readKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  createSecureContext({ cert, key });
  return { cert, key };
}

export class CertWatcher {
  readonly #options: CertWatcherOptions;
  #current: KeyPair;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;

  constructor(options: CertWatcherOptions) {
    this.#options = options;
    this.#current = options.initial;
  }

  start(): void {
    const { certFile, keyFile } = this.#options;
    for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
      const watcher = watch(dir, () => void this.reload());
      watcher.on("error", (err) => this.#options.log.warn({ err, dir }, "certificate watch failed; polling"));
      this.#watchers.push(watcher);
    }
    this.#timer = setInterval(() => void this.reload(), this.#options.pollIntervalMs ?? 10_000);
    this.#timer.unref();
  }

  /** Re-reads the files; a change is applied only once cert and key match (they are written one by one). */
  async reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = this.#load().finally(() => (this.#reloading = undefined));
    await this.#reloading;
    if (this.#again) {
      this.#again = false;
      await this.reload();
    }
  }

  async #load(): Promise<void> {
    const { certFile, keyFile, log, metrics } = this.#options;
    metrics?.reads.inc();
    let pair: KeyPair;
    try {
      pair = await readKeyPair(certFile, keyFile);
    } catch (err) {
      metrics?.readErrors.inc();
      log.warn({ err: toError(err) }, "certificate files not usable; keeping the current pair");
      return;
    }
    if (pair.cert.equals(this.#current.cert) && pair.key.equals(this.#current.key)) return;
    this.#current = pair;
    this.#options.onChange(pair);
    log.info({ certFile }, "serving certificate reloaded");
  }

  stop(): void {
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
    clearInterval(this.#timer);
  }
}
