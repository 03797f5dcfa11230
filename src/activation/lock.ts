import { spawn } from "node:child_process";
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { lockFilePath } from "../manifest/forbidden-paths.js";

/**
 * Serialise runs with flock(2) on a lock file beside the mount point
 * (e.g. /run/.agenix.d.lock). flock belongs to the open file description, so the
 * kernel releases it the moment a holder dies, even by SIGKILL: a killed run
 * never leaves a lock that others wait on. Node has no flock binding; the
 * util-linux `flock` tool takes the lock on a descriptor it inherits from us and
 * exits, and the lock stays with our descriptor until we close it or die.
 * The file is beside the mount point, not inside it, because the mount may not
 * exist yet and mounting it must itself be serialised.
 */
export async function acquireLock(mountPoint: string, timeoutSeconds: number): Promise<() => void> {
  const path = lockFilePath(mountPoint);
  let fd: number;
  try {
    mkdirSync(dirname(mountPoint), { recursive: true, mode: 0o755 });
    crashPoint("mkdir lock directory");
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    crashPoint("open lock file");
  } catch (error) {
    throw new AgebootError("SETUP", `${path}: cannot open the lock file (${describeCause(error)})`, { cause: error });
  }
  const status = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("flock", ["--exclusive", "--wait", String(timeoutSeconds), "3"], { stdio: ["ignore", "ignore", "ignore", fd] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  }).catch((error: Error) => {
    closeSync(fd);
    throw new AgebootError("SETUP", `cannot run flock(1) from util-linux to lock ${path} (${error.message})`, { cause: error });
  });
  if (status !== 0) {
    closeSync(fd);
    throw new AgebootError("SETUP", `${path}: another ageboot run held the lock for ${timeoutSeconds} s; giving up`);
  }
  // For people looking at a stuck host: who holds it.
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  crashPoint("write lock holder");
  return () => closeSync(fd);
}
