import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Runs `fn` holding a lock directory, so concurrent test runs in one checkout neither build the
 * binaries twice nor create the same cluster twice. A lock whose owner process died is taken over.
 */
export async function withLock<T>(
  lockDir: string,
  fn: () => Promise<T>,
  timeoutMs = 30 * 60_000,
): Promise<T> {
  await mkdir(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  while (!(await tryAcquire(lockDir))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`);
    if (!announced) {
      process.stderr.write(`[cluster] waiting for another run holding ${lockDir}\n`);
      announced = true;
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function tryAcquire(lockDir: string): Promise<boolean> {
  try {
    await mkdir(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const owner = Number(await readFile(join(lockDir, "pid"), "utf8").catch(() => ""));
    // no pid yet means the owner is between mkdir and writeFile: treat it as alive
    if (!owner || isAlive(owner)) return false;
    await rm(lockDir, { recursive: true, force: true });
    return false;
  }
  await writeFile(join(lockDir, "pid"), String(process.pid));
  return true;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
