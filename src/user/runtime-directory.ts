import { fstatSync, mkdirSync, statfsSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { holdExistingParentDirectory, trustedFor } from "../activation/held-directory.js";
import type { UserEnvironment } from "./environment.js";

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;
/** statfs(2) f_type of the file systems people find under a home or /tmp, for a message that names them. */
const KNOWN_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, "ext4 (or ext2/ext3)"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x2fc12fc1, "zfs"],
  [0x794c7630, "overlayfs"],
  [0x6969, "nfs"],
  [0xf2f52010, "f2fs"],
]);

/**
 * Step 4 of a --user run, in place of the mount (src/activation/host-context.ts):
 * plaintext goes only where a tmpfs or ramfs already is, the user's
 * $XDG_RUNTIME_DIR; an unprivileged user cannot mount one, and a directory on
 * a disk would keep the secrets after the power goes. Refused, touching nothing:
 * - a runtime directory reached through a directory that a user other than
 *   root and this one could change (the descriptor walk of held-directory.ts,
 *   with the custom paths' trust rule);
 * - one that is not this user's, or that group or others can write to: they
 *   could swap the generations and links that ageboot then uses by name;
 * - one on any file system but tmpfs or ramfs, with how to get one.
 * Then the generations' directory is made inside it (mode 0751, as agenix's
 * home-manager module makes it) and checked again: something mounted there is
 * no better than a disk.
 */
export function prepareUserSecretsDirectory(mountPoint: string, user: UserEnvironment): void {
  requireUserRuntimeDirectory(user);
  try {
    mkdirSync(mountPoint, { recursive: true, mode: 0o751 });
    crashPoint("mkdir mount point");
  } catch (error) {
    throw new AgebootError("SETUP", `${mountPoint}: cannot create the secrets directory (${describeCause(error)})`, { cause: error });
  }
  const type = statfsSync(mountPoint).type;
  if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
    throw new AgebootError("SETUP", `${mountPoint}: a ${filesystemName(type)} file system is mounted there; refusing to write plaintext anywhere but ramfs or tmpfs`);
  }
}

/**
 * The checks above on $XDG_RUNTIME_DIR alone, reading only: \`activate --user\`
 * makes them first, so that a refused directory gets no lock file either.
 */
export function requireUserRuntimeDirectory(user: UserEnvironment): void {
  const where = `$XDG_RUNTIME_DIR (${user.runtimeDir})`;
  let held: ReturnType<typeof holdExistingParentDirectory>;
  try {
    // The walk holds the parent of the name it is given: here, the runtime directory itself.
    // No group is trusted, not even the user's own: after this walk the lock, the generations and the
    // links are used by name, and another member of a group that can write an ancestor could swap
    // that ancestor (renameat2 RENAME_EXCHANGE) and have this run write into his own directory.
    held = holdExistingParentDirectory(`${user.runtimeDir}/.ageboot`, trustedFor(user.uid, []));
  } catch (error) {
    throw new AgebootError("SETUP", `${where}: ${error instanceof AgebootError ? forTheUser(error.message) : describeCause(error)}`, {
      cause: error,
    });
  }
  if (held === null) throw new AgebootError("SETUP", `${where} does not exist; it is made by systemd-logind when you log in (or, for a lingering user, at boot)`);
  try {
    const info = fstatSync(held.fd);
    if (info.uid !== user.uid) throw new AgebootError("SETUP", `${where} belongs to uid ${info.uid}, not to you (uid ${user.uid}); refusing to keep your secrets there`);
    if ((info.mode & 0o022) !== 0) {
      throw new AgebootError(
        "SETUP",
        `${where} is writable by group or others (mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")}); they could replace your secrets. chmod 0700 it`,
      );
    }
    const type = statfsSync(held.self).type;
    if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
      throw new AgebootError(
        "SETUP",
        `${where} is on ${filesystemName(type)}, not on tmpfs or ramfs: decrypted secrets there would be written to a persistent disk. ` +
          "On systemd hosts, log in through pam_systemd (or enable lingering: loginctl enable-linger) so that systemd-logind mounts a tmpfs at /run/user/$UID, and leave XDG_RUNTIME_DIR pointing there; elsewhere, have root mount a tmpfs owned by you with mode 0700 and point XDG_RUNTIME_DIR at it",
      );
    }
  } finally {
    held.close();
  }
}

/** The walk's refusal (written for custom paths), reworded for the user whose runtime directory it is. */
function forTheUser(message: string): string {
  return message
    .replace("the secret's owner", "you")
    .replace(
      "which is not a group the secret is given to; its members could replace what ageboot installs there",
      "and activate --user trusts no group on the way to its runtime directory: another member could swap a directory on the way and redirect your secrets",
    );
}

function filesystemName(type: number): string {
  return KNOWN_FILESYSTEMS.get(type) ?? `a file system of type 0x${type.toString(16)}`;
}
