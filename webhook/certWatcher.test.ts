import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertWatcher, readKeyPair, type KeyPair } from "./certWatcher.ts";
import { createMetrics } from "./metrics.ts";
import { generateSelfSigned, writeCertFiles } from "./selfSigned.ts";
import { quietLog } from "../test/support/log.ts";

const READS = "spot_orchestrator_webhook_certificate_reads_total";
const READ_ERRORS = "spot_orchestrator_webhook_certificate_read_errors_total";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cert-watcher-test-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function counts(metrics: ReturnType<typeof createMetrics>) {
  const value = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return { reads: await value(READS), errors: await value(READ_ERRORS) };
}

describe("the certificate watcher", () => {
  it("exports its reads and failed reads on the webhook's metrics, from 0", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain(`# TYPE ${READS} counter`);
    expect(text).toContain(`\n${READS} 0\n`);
    expect(text).toContain(`# TYPE ${READ_ERRORS} counter`);
    expect(text).toContain(`\n${READ_ERRORS} 0\n`);
  });

  it("counts a reload as a read and a bad certificate file as a failed read, keeping the pair in use", async () => {
    const files = await writeCertFiles(join(dir, "reload"), generateSelfSigned());
    const metrics = createMetrics();
    const changes: KeyPair[] = [];
    const watcher = new CertWatcher({
      certFile: files.certFile,
      keyFile: files.keyFile,
      log: quietLog,
      initial: await readKeyPair(files.certFile, files.keyFile),
      onChange: (pair) => changes.push(pair),
      metrics: metrics.certificates,
    });

    const rotated = generateSelfSigned();
    await writeCertFiles(join(dir, "reload"), rotated);
    await watcher.reload();
    expect(changes.map((pair) => pair.cert.toString())).toEqual([rotated.certPem]);
    expect(await counts(metrics)).toEqual({ reads: 1, errors: 0 });

    await writeFile(files.certFile, "-----BEGIN CERTIFICATE-----\nnot a certificate\n");
    await watcher.reload();
    expect(changes).toHaveLength(1);
    expect(await counts(metrics)).toEqual({ reads: 2, errors: 1 });

    await rm(files.keyFile);
    await watcher.reload();
    expect(await counts(metrics)).toEqual({ reads: 3, errors: 2 });

    // nothing new on disk: a read, and no change reported
    await writeCertFiles(join(dir, "reload"), rotated);
    await watcher.reload();
    expect(changes).toHaveLength(1);
    expect(await counts(metrics)).toEqual({ reads: 4, errors: 2 });
  });
});
