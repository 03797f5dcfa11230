import { spawn } from "node:child_process";
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { lockFilePath } from "../manifest/forbidden-paths.js";

/** Takes the lock that serialises runs on `mountPoint`; resolves the function that releases it. */
export type LockAcquirer = (mountPoint: string, timeoutSeconds: number) => Promise<() => void>;

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
export const acquireLock: LockAcquirer = async (mountPoint, timeoutSeconds) => {
  const path = lockFilePath(mountPoint);
  let fd: number;
  try {
    mkdirSync(dirname(mountPoint), { recursive: true, mode: 0o755 });
    crashPoint("mkdir lock directory");
    // O_NONBLOCK: a FIFO planted there must not hang the boot in open().
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    crashPoint("open lock file");
  } catch (error) {
    throw new AgebootError("SETUP", `${path}: cannot open the lock file (${describeCause(error)})`, { cause: error });
  }
  // Every way out but success closes the descriptor: a lock taken and then left
  // open by a failed write (ENOSPC on /run) would hold every later run off until exit.
  try {
    requireOwnLockFile(fd, path);
    const status = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("flock", ["--exclusive", "--wait", String(timeoutSeconds), "3"], { stdio: ["ignore", "ignore", "ignore", fd] });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code));
    }).catch((error: Error) => {
      throw new AgebootError("SETUP", `cannot run flock(1) from util-linux to lock ${path} (${error.message})`, { cause: error });
    });
    if (status !== 0) throw new AgebootError("SETUP", `${path}: another ageboot run held the lock for ${timeoutSeconds} s; giving up`);
    // For people looking at a stuck host: who holds it.
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    crashPoint("write lock holder");
  } catch (error) {
    closeSync(fd);
    if (error instanceof AgebootError) throw error;
    throw new AgebootError("SETUP", `${path}: cannot use the lock file (${describeCause(error)})`, { cause: error });
  }
  return () => closeSync(fd);
};

/**
 * The lock file is truncated and written (the holder's pid), so it must be one
 * that only this program uses: a regular file (not a FIFO or device someone
 * planted), with one link (a hard link to another file, /etc/shadow say, would
 * be truncated through it), owned by the user ageboot runs as. Checked on the
 * open descriptor, so the file checked is the file used. Mode 0600 again each
 * run: anyone who can open it can flock(2) it and hold every run off.
 */
function requireOwnLockFile(fd: number, path: string): void {
  const info = fstatSync(fd);
  const self = process.geteuid?.() ?? 0;
  const problem = !info.isFile()
    ? "is not a regular file"
    : info.nlink !== 1
      ? `has ${info.nlink} hard links (it must have one)`
      : info.uid !== self
        ? `is owned by uid ${info.uid}, not ${self === 0 ? "root" : `uid ${self}`}`
        : null;
  if (problem !== null) throw new AgebootError("SETUP", `${path}: the lock file ${problem}; refusing to use it. Remove it, and ageboot makes a new one`);
  fchmodSync(fd, 0o600);
  crashPoint("chmod lock file");
}
