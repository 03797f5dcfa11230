import { execFile } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { dirname, isAbsolute, normalize } from "node:path";
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

/** The topmost mount exactly at `path`: its file system type, its per-mount options (nosuid, nodev, ...) and its file system's own (size=, noswap, ...). */
function topmostMountAt(path: string): { fstype: string; options: string[]; superOptions: string[] } | null {
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  let found: { fstype: string; options: string[]; superOptions: string[] } | null = null;
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator < 0 || fields.length < 6) continue;
    if (unescapeMountinfo(fields[4]!) === path) {
      found = { fstype: fields[separator + 1] ?? "", options: fields[5]!.split(","), superOptions: (fields[separator + 3] ?? "").split(",") };
    }
  }
  return found;
}

/**
 * What holds plaintext at a secrets mount point, as the log and `ageboot
 * status` say it: the file system, whether the kernel may swap it out, and
 * the size it is limited to (null: no limit, as on a ramfs).
 */
export interface SecretsMountKind {
  readonly fstype: string;
  /** ramfs is never swapped; a tmpfs only with `noswap` (Linux 6.4+). */
  readonly swappable: boolean;
  readonly sizeLimitBytes: number | null;
}

/** The kind of the memory-backed mount exactly at `path`; null when none is there. */
export function secretsMountKindAt(path: string): SecretsMountKind | null {
  const mount = topmostMountAt(path);
  if (mount === null || !MEMORY_FILESYSTEMS.has(mount.fstype)) return null;
  if (mount.fstype === "ramfs") return { fstype: "ramfs", swappable: false, sizeLimitBytes: null };
  // tmpfs shows its size as size=<n>k, and none at all when mounted with size=0 (unlimited).
  const size = mount.superOptions.find((option) => option.startsWith("size="))?.slice("size=".length);
  const sizeLimitBytes = size && /^\d+k$/.test(size) ? Number(size.slice(0, -1)) * 1024 : null;
  return { fstype: "tmpfs", swappable: !mount.superOptions.includes("noswap"), sizeLimitBytes };
}

/** "tmpfs (noswap, 2.3 GiB)", "ramfs (no size limit)": a mount kind, for log lines. */
export function describeSecretsMount(kind: SecretsMountKind): string {
  const size = kind.sizeLimitBytes === null ? "no size limit" : `size ${(kind.sizeLimitBytes / 1024 / 1024).toFixed(0)} MiB`;
  if (kind.fstype === "ramfs") return `ramfs (never swapped, ${size})`;
  return `tmpfs (${kind.swappable ? "swappable: no noswap" : "noswap"}, ${size})`;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * Refuse a path any of whose directories is a symlink (/var/run -> /run):
 * mount(8) resolves it and mounts elsewhere, while ageboot's checks compare
 * the path as written (so every run stacked another tmpfs), and the path
 * would name different places over time. Walked from / with lstat; the part
 * that does not exist yet is created by ageboot itself.
 */
export function refuseSymlinkedDirectories(path: string, what: string): void {
  if (!isAbsolute(path) || normalize(path) !== path || (path.endsWith("/") && path !== "/")) {
    throw new AgebootError("SETUP", `${what} ${JSON.stringify(path)} must be an absolute path without ".", ".." or a trailing "/"`);
  }
  let prefix = "";
  for (const part of path.split("/").slice(1)) {
    prefix = `${prefix}/${part}`;
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(prefix);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new AgebootError("SETUP", `${prefix}: cannot check ${what} ${path} (${describeCause(error)})`, { cause: error });
    }
    if (info.isSymbolicLink()) {
      throw new AgebootError("SETUP", `${what} ${path}: ${prefix} is a symlink (to ${readlinkSync(prefix)}); name the real directory instead`);
    }
  }
}

export interface MountOptions {
  /** For development and tests only: stage plaintext in a plain directory. */
  readonly allowPlainDirectory: boolean;
  /** gid of the "keys" group, when it exists. */
  readonly keysGid: number | null;
  /** The link users read through: its directory is checked for symlinks like the mount point. */
  readonly secretsDir?: string;
}

/** Mount options a secrets mount should have; agenix mounts its ramfs with these. */
const HARDENING_OPTIONS = ["nosuid", "nodev"] as const;

/**
 * The share of RAM a tmpfs ageboot mounts may hold (docs/security.md, "Memory
 * on the secrets mount"). A ramfs has no limit, so a secret's owner could
 * append to their file until the host runs out of memory that cannot be
 * swapped; this bounds what they can pin. A tenth of RAM is far above any real
 * set of secrets kept `keepGenerations` + 2 times over (the current one, the
 * kept ones and the one being staged at a switch), and a host that needs more
 * mounts its own tmpfs there, which ageboot uses as it is.
 */
export const TMPFS_SIZE = "10%";

/**
 * The file systems tried, in order: a tmpfs that is never swapped (`noswap`,
 * Linux 6.4+) and has a size limit; else a ramfs (never swapped, no limit). A
 * kernel without `noswap` refuses the option (EINVAL), so trying is the test;
 * a tmpfs that could be swapped is never mounted, since its pages of plaintext
 * could reach a swap device.
 */
export const MOUNT_ATTEMPTS = [
  { fstype: "tmpfs", options: `nodev,nosuid,mode=0751,noswap,size=${TMPFS_SIZE}` },
  { fstype: "ramfs", options: "nodev,nosuid,mode=0751" },
] as const;

/**
 * Make sure plaintext can only land in memory: the mount point is created if
 * needed and a memory file system is mounted there (MOUNT_ATTEMPTS: nodev,
 * nosuid, mode 0751) unless a ramfs or tmpfs is already mounted exactly there.
 * Any other file system is refused. Resolves whether this call mounted it (see
 * unmountSecretsMount) and what the mount is, which the log says.
 */
export async function ensureSecretsMount(mountPoint: string, options: MountOptions, log: Logger): Promise<{ mountedHere: boolean }> {
  refuseSymlinkedDirectories(mountPoint, "secretsMountPoint");
  if (options.secretsDir !== undefined) refuseSymlinkedDirectories(dirname(options.secretsDir), "the directory of secretsDir");
  try {
    mkdirSync(mountPoint, { recursive: true, mode: 0o751 });
    crashPoint("mkdir mount point");
  } catch (error) {
    throw new AgebootError("SETUP", `${mountPoint}: cannot create the mount point (${describeCause(error)})`, { cause: error });
  }
  let fstype = mountedFilesystemAt(mountPoint);
  const mountedHere = fstype === null && !options.allowPlainDirectory;
  if (fstype !== null && MEMORY_FILESYSTEMS.has(fstype)) {
    warnAboutMissingOptions(mountPoint, fstype, log);
    const kind = secretsMountKindAt(mountPoint);
    if (kind?.swappable) {
      log.warn(
        `${mountPoint}: the tmpfs mounted there has no noswap: the kernel may write its plaintext to swap; add noswap (Linux 6.4+), or leave the mount point empty and ageboot mounts its own`,
      );
    } else if (kind) log.info(`using the ${describeSecretsMount(kind)} already mounted on ${mountPoint}`);
  }
  if (fstype === null && options.allowPlainDirectory) {
    log.warn(`INSECURE: --insecure-plain-directory: staging plaintext in ${mountPoint}, which is not a memory-backed mount; never use this on a real host`);
  } else if (fstype === null) {
    await mountMemoryFilesystem(mountPoint, log);
    fstype = mountedFilesystemAt(mountPoint);
    // mount(8) said yes, yet nothing is mounted at this path: it mounted somewhere else.
    if (fstype === null) throw new AgebootError("SETUP", `${mountPoint}: mount succeeded but nothing is mounted at this path; refusing to write plaintext there`);
  }
  if (fstype !== null && !MEMORY_FILESYSTEMS.has(fstype)) {
    throw new AgebootError("SETUP", `${mountPoint}: a ${fstype} file system is mounted there; refusing to write plaintext anywhere but ramfs or tmpfs`);
  }
  // A mount root that is not root's (a tmpfs mounted with uid=): its owner could plant generations, records and links.
  const owner = statSync(mountPoint).uid;
  if (owner !== 0 && !options.allowPlainDirectory) {
    throw new AgebootError("SETUP", `${mountPoint}: the mount there is owned by uid ${owner}, not root; refusing to use it (mount it with mode=0751 and no uid=)`);
  }
  setDirectoryAccess(mountPoint, options.keysGid);
  return { mountedHere };
}

/** Mount the first of MOUNT_ATTEMPTS the kernel accepts; say which, and why an earlier one was not used. */
async function mountMemoryFilesystem(mountPoint: string, log: Logger): Promise<void> {
  const refusals: string[] = [];
  for (const attempt of MOUNT_ATTEMPTS) {
    try {
      await run("mount", ["-t", attempt.fstype, "-o", attempt.options, attempt.fstype, mountPoint]);
      crashPoint(`mount ${attempt.fstype}`);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      refusals.push(`${attempt.fstype} -o ${attempt.options}: ${stderr || describeCause(error)}`);
      continue;
    }
    const kind = secretsMountKindAt(mountPoint);
    const why = refusals.length > 0 ? ` (refused: ${refusals.join("; ")}; a tmpfs with noswap needs Linux 6.4 or later)` : "";
    log.info(`mounted ${kind ? describeSecretsMount(kind) : attempt.fstype} on ${mountPoint}${why}`);
    return;
  }
  throw new AgebootError("SETUP", `${mountPoint}: cannot mount a tmpfs or a ramfs (${refusals.join("; ")})`);
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
    log.info(`unmounted the memory file system this run mounted on ${mountPoint}: nothing was installed on it`);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    log.warn(`${mountPoint}: cannot unmount the memory file system this run mounted (${stderr || describeCause(error)})`);
  }
}

/** Mode 0751 (traverse, no listing) and group "keys" when it exists, as agenix does. */
export function setDirectoryAccess(path: string, keysGid: number | null): void {
  if (keysGid !== null) chownSync(path, 0, keysGid);
  crashPoint("chown directory");
  chmodSync(path, 0o751);
  crashPoint("chmod directory");
}
