import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { AgebootError, describeCause } from "../errors.js";
import type { Logger } from "../log.js";
import { crashPoint } from "../fault-injection.js";

const run = promisify(execFile);
const MEMORY_FILESYSTEMS = new Set(["ramfs", "tmpfs"]);

/** The file system type mounted exactly at `path` (the topmost mount), or null. */
export function mountedFilesystemAt(path: string): string | null {
  return topmostMountAt(path)?.fstype ?? null;
}

/** The topmost mount exactly at `path`: its file system type and its per-mount options (nosuid, nodev, ...). */
function topmostMountAt(path: string): { fstype: string; options: string[] } | null {
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  let found: { fstype: string; options: string[] } | null = null;
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator < 0 || fields.length < 6) continue;
    if (unescapeMountinfo(fields[4]!) === path) found = { fstype: fields[separator + 1] ?? "", options: fields[5]!.split(",") };
  }
  return found;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export interface MountOptions {
  /** For development and tests only: stage plaintext in a plain directory. */
  readonly allowPlainDirectory: boolean;
  /** gid of the "keys" group, when it exists. */
  readonly keysGid: number | null;
}

/** Mount options a secrets mount should have; agenix mounts its ramfs with these. */
const HARDENING_OPTIONS = ["nosuid", "nodev"] as const;

/**
 * Make sure plaintext can only land in memory: the mount point is created if
 * needed and a ramfs is mounted there (nodev, nosuid, mode 0751) unless a ramfs
 * or tmpfs is already mounted exactly there. Any other file system is refused.
 * Resolves whether this call mounted it (see unmountSecretsMount).
 */
export async function ensureSecretsMount(mountPoint: string, options: MountOptions, log: Logger): Promise<{ mountedHere: boolean }> {
  try {
    mkdirSync(mountPoint, { recursive: true, mode: 0o751 });
    crashPoint("mkdir mount point");
  } catch (error) {
    throw new AgebootError("SETUP", `${mountPoint}: cannot create the mount point (${describeCause(error)})`, { cause: error });
  }
  let fstype = mountedFilesystemAt(mountPoint);
  const mountedHere = fstype === null && !options.allowPlainDirectory;
  if (fstype !== null && MEMORY_FILESYSTEMS.has(fstype)) warnAboutMissingOptions(mountPoint, fstype, log);
  if (fstype === null && options.allowPlainDirectory) {
    log.warn(`INSECURE: --insecure-plain-directory: staging plaintext in ${mountPoint}, which is not a memory-backed mount; never use this on a real host`);
  } else if (fstype === null) {
    try {
      await run("mount", ["-t", "ramfs", "-o", "nodev,nosuid,mode=0751", "ramfs", mountPoint]);
      crashPoint("mount ramfs");
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new AgebootError("SETUP", `${mountPoint}: cannot mount a ramfs (${stderr || describeCause(error)})`, { cause: error });
    }
    fstype = mountedFilesystemAt(mountPoint);
    log.info(`mounted ramfs on ${mountPoint}`);
  }
  if (fstype !== null && !MEMORY_FILESYSTEMS.has(fstype)) {
    throw new AgebootError("SETUP", `${mountPoint}: a ${fstype} file system is mounted there; refusing to write plaintext anywhere but ramfs or tmpfs`);
  }
  setDirectoryAccess(mountPoint, options.keysGid);
  return { mountedHere };
}

/**
 * A ramfs or tmpfs someone else mounted without nosuid or nodev is used, with a
 * warning, not refused: only root can create anything on it (the mount point
 * and every generation are root's, 0751, and ageboot creates only plain files
 * whose modes the manifest cannot make setuid), so the options are defence in
 * depth, while refusing would turn a plain fstab line into a boot without secrets.
 */
function warnAboutMissingOptions(mountPoint: string, fstype: string, log: Logger): void {
  const present = topmostMountAt(mountPoint)?.options ?? [];
  const missing = HARDENING_OPTIONS.filter((option) => !present.includes(option));
  if (missing.length === 0) return;
  log.warn(
    `${mountPoint}: the ${fstype} mounted there lacks ${missing.join(",")}; using it, but add ${missing.join(",")} to its mount options (agenix and ageboot mount theirs so)`,
  );
}

/**
 * Undo a mount this run made when the run ends with nothing current on it
 * (exit 5 because secretsDir is a real directory, say): it holds nothing anyone
 * reads, and the host should look as it did before the run.
 */
export async function unmountSecretsMount(mountPoint: string, log: Logger): Promise<void> {
  try {
    await run("umount", [mountPoint]);
    crashPoint("unmount ramfs");
    log.info(`unmounted the ramfs this run mounted on ${mountPoint}: nothing was installed on it`);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    log.warn(`${mountPoint}: cannot unmount the ramfs this run mounted (${stderr || describeCause(error)})`);
  }
}

/** Mode 0751 (traverse, no listing) and group "keys" when it exists, as agenix does. */
export function setDirectoryAccess(path: string, keysGid: number | null): void {
  if (keysGid !== null) chownSync(path, 0, keysGid);
  crashPoint("chown directory");
  chmodSync(path, 0o751);
  crashPoint("chmod directory");
}
