import { basename, dirname, resolve } from "node:path";
import { generationNumber } from "../activation/generations.js";
import type { HeldDirectory } from "../activation/held-directory.js";
import type { Logger } from "../log.js";
import type { Manifest } from "../manifest/types.js";
import { UserDatabase } from "../users.js";
import { IdNames } from "./id-names.js";
import { type Blocked, holdDirectoryIn, isBlocked, lstatIn, reachDirectory, reachParent, readlinkIn } from "./reach.js";
import { RecipientChecker } from "./recipients.js";
import type { Finding } from "./report.js";

/** The name, inside the mount point, of the relative link containers read through (../activation/generations.ts). */
const CONTAINER_LINK = "current";

/**
 * Everything the sections of `ageboot status` share, read once: where the
 * secrets are, the manifest if any, the mount point and the current
 * generation held by descriptor (./reach.ts), and the lookups (names of ids,
 * the host's identities) made at most once. Each section is a function of
 * this context (./sections.ts); a new section needs nothing else.
 */
export interface StatusContext {
  readonly secretsDir: string;
  readonly mountPoint: string;
  readonly manifest: Manifest | null;
  readonly uid: number;
  readonly asRoot: boolean;
  readonly names: IdNames;
  /** The mount point, held; or why it could not be. */
  readonly mount: HeldDirectory | Blocked;
  /** The generation secretsDir points at; null when none does. */
  readonly current: number | null;
  /** Its directory, held; null when there is no current generation. */
  readonly currentDirectory: HeldDirectory | Blocked | null;
  /** The generation `<mount point>/current` names. */
  readonly containerLink: number | null;
  /** What reading secretsDir and the links found wrong. */
  readonly layoutFindings: Finding[];
  /** The user database, to resolve declared owners as activation does; loaded on first use. */
  users(): UserDatabase;
  /** The host's identities tried on declared files' headers; loaded on first use. */
  readonly recipients: RecipientChecker;
  readonly log: Logger;
  /** Release every descriptor held. */
  close(): void;
}

export interface ContextOptions {
  readonly secretsDir: string;
  readonly mountPoint: string;
  readonly manifest: Manifest | null;
  readonly log: Logger;
}

export function openContext(options: ContextOptions): StatusContext {
  const { secretsDir, mountPoint, manifest, log } = options;
  const uid = process.geteuid?.() ?? 0;
  const layoutFindings: Finding[] = [];
  const mount = reachDirectory(mountPoint);
  const current = currentGeneration(secretsDir, mountPoint, layoutFindings);
  let currentDirectory: HeldDirectory | Blocked | null = null;
  if (current !== null) {
    currentDirectory = isBlocked(mount) ? mount : holdDirectoryIn(mount, String(current));
    if (isBlocked(currentDirectory) && currentDirectory.blocked === "missing") {
      layoutFindings.push({ severity: "problem", subject: "generations", message: `${secretsDir} points at generation ${current}, which does not exist` });
    }
  }
  const containerLink = isBlocked(mount) ? null : generationNamed(readlinkIn(mount, CONTAINER_LINK));
  if (current !== null && containerLink !== current && !isBlocked(mount)) {
    layoutFindings.push({
      severity: "problem",
      subject: "generations",
      message: `containers read generation ${containerLink ?? "(none)"} through ${mountPoint}/${CONTAINER_LINK}, the host reads ${current} (an activation is under way, or one was killed between its two swaps: the next run puts it right)`,
    });
  }
  let users: UserDatabase | null = null;
  const recipients = new RecipientChecker(manifest?.identityPaths ?? [], uid);
  return {
    secretsDir,
    mountPoint,
    manifest,
    uid,
    asRoot: uid === 0,
    names: IdNames.load(),
    mount,
    current,
    currentDirectory,
    containerLink,
    layoutFindings,
    users: () => {
      users ??= UserDatabase.load();
      return users;
    },
    recipients,
    log,
    close: () => {
      if (currentDirectory !== null && !isBlocked(currentDirectory)) currentDirectory.close();
      if (!isBlocked(mount)) mount.close();
    },
  };
}

/** The generation the secretsDir symlink points at (read by descriptor), or null with what is wrong in `findings`. */
function currentGeneration(secretsDir: string, mountPoint: string, findings: Finding[]): number | null {
  const noGeneration = (why: string, severity: Finding["severity"] = "problem") => {
    findings.push({ severity, subject: "generations", message: why });
    return null;
  };
  const { parent, name } = reachParent(secretsDir);
  const info = isBlocked(parent) ? parent : lstatIn(parent, name, secretsDir);
  const target = isBlocked(info) || isBlocked(parent) || !info.isSymbolicLink() ? null : readlinkIn(parent, name, secretsDir);
  if (!isBlocked(parent)) parent.close();
  if (isBlocked(info)) {
    if (info.blocked === "missing") return noGeneration(`${secretsDir} does not exist: no generation is current (ageboot activate has not run since boot)`);
    return noGeneration(`${secretsDir}: ${info.reason}`, info.blocked === "denied" ? "unchecked" : "problem");
  }
  if (!info.isSymbolicLink()) {
    return noGeneration(`${secretsDir} is ${info.isDirectory() ? "a real directory" : "not a symlink"}; it must be a symlink that ageboot manages (move it away: agenix#291)`);
  }
  if (target === null || isBlocked(target)) return noGeneration(`${secretsDir}: ${target?.reason ?? "cannot be read"}`);
  const resolved = resolve(dirname(secretsDir), target);
  const generation = dirname(resolved) === resolve(mountPoint) ? generationNamed(basename(resolved)) : null;
  if (generation === null) return noGeneration(`${secretsDir} points at ${target}, which is not a generation in ${mountPoint}`);
  return generation;
}

function generationNamed(name: string | Blocked): number | null {
  return typeof name === "string" ? generationNumber(name) : null;
}
