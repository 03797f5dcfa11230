import { chmodSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, openSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import type { Manifest } from "../manifest/types.js";
import { UserDatabase } from "../users.js";
import { Generations } from "./generations.js";
import { type CopySource, commitCustomPaths, prepareCustomPaths } from "./custom-paths.js";
import { Immutability, regularFilesIn } from "./immutable.js";
import { acquireLock } from "./lock.js";
import { mountedFilesystemAt } from "./mount.js";
import { type Outcome, type SecretFailure, SecretOutcome, TemplateOutcome } from "./outcome.js";
import { hasCustomPath, resolveOwnership } from "./plan.js";
import type { Ownership } from "./write-exclusive.js";

/** Open what ageboot wrote without following a link, and without blocking on a FIFO put in its place. */
const OPEN_OWN_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface OwnershipResult {
  /** Files (secrets' names, templates' rendered/<name>) given their owner, group or mode now. */
  readonly applied: string[];
  readonly failures: SecretFailure[];
}

/**
 * `ageboot chown`: the second half of an activation that ran before the users
 * existed (--defer-unknown-owners). Gives every secret and rendered template
 * of the current generation, and every custom path (a copy, or the symlink), its declared owner, group and
 * mode; files that have them already are left alone. Under the lock, so it
 * never meets a half-made generation.
 */
export async function applyOwnership(manifest: Manifest, log: Logger, lockTimeoutSeconds: number): Promise<OwnershipResult> {
  const releaseLock = await acquireLock(manifest.secretsMountPoint, lockTimeoutSeconds);
  let reowning: Reowning | null = null;
  try {
    const immutability = Immutability.forMount(mountedFilesystemAt(manifest.secretsMountPoint), process.geteuid?.() === 0);
    const generations = Generations.read(manifest.secretsMountPoint, manifest.secretsDir, immutability);
    const generationDir = generations.currentPath;
    if (generationDir === null) throw new AgebootError("SETUP", `${manifest.secretsDir}: no current generation; run ageboot activate first`);
    reowning = new Reowning(generationDir, immutability, log);
    const users = UserDatabase.load();
    const applied: string[] = [];
    const failures: SecretFailure[] = [];
    // Secrets and rendered templates alike: an outcome of each says where its file is.
    const items: Outcome[] = [
      ...manifest.secrets.map((secret) => new SecretOutcome(secret, null)),
      ...manifest.templates.map((template) => new TemplateOutcome(template, null, null)),
    ];
    const resolved: { item: Outcome; ownership: Ownership }[] = [];
    for (const item of items) {
      const { kind, declared } = item;
      const ownership = await resolveOwnership(declared, users);
      if (typeof ownership === "string") {
        failures.push({ kind, name: declared.name, code: "PLAN", message: `${ownership}; its file stays root:root 0400` });
        continue;
      }
      resolved.push({ item, ownership });
    }
    // Every file about to change made mutable in one chattr, not one per file, while the generation is closed (N6).
    reowning.prepare(resolved.map(({ item }) => `${generationDir}/${item.fileName}`).filter((path, index) => needsChange(path, resolved[index]!.ownership)));
    for (const { item, ownership } of resolved) {
      const { kind, declared } = item;
      // A copy is made again from the descriptor applyTo opened while the file was still root's (see applyTo).
      const copied = !declared.symlink && hasCustomPath(item, manifest.secretsDir);
      let source: CopySource | null = null;
      try {
        const { changed, source: opened } = applyTo(`${generationDir}/${item.fileName}`, ownership, item, log, copied, reowning);
        source = opened;
        // The copy (or the symlink) was made with the same deferred ownership as the generation's file.
        if (changed && hasCustomPath(item, manifest.secretsDir)) await reinstallCustomPath(item, ownership, generationDir, manifest, log, source);
        if (changed) applied.push(item.fileName);
      } catch (error) {
        failures.push({ kind, name: declared.name, code: error instanceof AgebootError ? error.code : "IO", message: describeCause(error) });
      } finally {
        source?.close();
      }
    }
    return { applied, failures };
  } finally {
    // Whatever happened, the changed files immutable again and the generation open again.
    reowning?.finish();
    releaseLock();
  }
}

/**
 * Files of the current generation are immutable (./immutable.ts): chown must
 * clear the flag to re-own one, and between giving it to its owner and making
 * it immutable again the owner could open it for writing and keep that
 * descriptor. So the generation is closed (0700) before the first file is
 * changed and opened again (0751) only after its files are immutable again:
 * readers of this generation wait those few milliseconds (chown runs in the
 * NixOS activation, right after the users step, before services start).
 * The flag is cleared and set in one batch each (one chattr per 2,000 paths).
 * finish() seals every regular file of the generation and opens it, whatever
 * this run changed: a run killed earlier may have left files mutable in a
 * closed generation, and this run may find nothing to change (N2).
 */
class Reowning {
  private closed = false;
  private readonly cleared = new Set<string>();
  constructor(
    private readonly generationDir: string,
    private readonly immutability: Immutability,
    private readonly log: Logger,
  ) {}

  /** Before any file is changed: close the generation and clear the flag on every file in `paths`, in one batch. */
  prepare(paths: readonly string[]): void {
    if (paths.length === 0 || this.immutability.unavailable !== null) return;
    this.close();
    this.immutability.clear(paths);
    crashPoint("clear immutable for chown");
    for (const path of paths) this.cleared.add(path);
  }

  /** Before `path` is chmod'ed or chown'ed (prepare() cleared it, unless it changed since). */
  begin(path: string): void {
    if (this.immutability.unavailable !== null || this.cleared.has(path)) return;
    this.close();
    this.immutability.clear([path]);
    crashPoint("clear immutable for chown");
    this.cleared.add(path);
  }

  private close(): void {
    if (this.closed) return;
    chmodSync(this.generationDir, 0o700);
    crashPoint("close generation for chown");
    this.closed = true;
  }

  /** Every regular file of the generation immutable, then the generation open (0751), as Generations.seal leaves it. */
  finish(): void {
    this.immutability.set(regularFilesIn(this.generationDir), this.log);
    crashPoint("immutable after chown");
    if (!this.closed && (lstatSync(this.generationDir).mode & 0o7777) === 0o751) return;
    chmodSync(this.generationDir, 0o751);
    crashPoint("open generation after chown");
  }
}

/** Whether the file at `path` (in the root-only generation) differs from `ownership`; a guess, applyTo checks again by descriptor. */
function needsChange(path: string, ownership: Ownership): boolean {
  try {
    const info = lstatSync(path);
    return info.isFile() && (info.uid !== ownership.uid || info.gid !== ownership.gid || (info.mode & 0o7777) !== ownership.mode);
  } catch {
    return false;
  }
}

/**
 * A custom path made while its owner did not exist yet is made again, as the
 * activation makes it, now with its owner. A `symlink: false` copy lives in a directory its owner may write to, where
 * whatever is at its name may not be the file ageboot wrote: the owner can put
 * any root-owned file there, and chowning it would hand it over. So the copy is
 * never chowned in place: a new one is written from the generation's file (now
 * with its final owner) exactly as the activation writes copies (through the
 * held directory, created exclusively, owned before it is renamed over the name).
 */
async function reinstallCustomPath(item: Outcome, ownership: Ownership, generationDir: string, manifest: Manifest, log: Logger, source: CopySource | null): Promise<void> {
  const outcome = item instanceof TemplateOutcome ? new TemplateOutcome(item.template, null, ownership) : new SecretOutcome((item as SecretOutcome).secret, ownership);
  outcome.staged(true, source?.size ?? 0);
  // The copy's source is the descriptor opened before the file was given away, never the file by name again (F1).
  const openSource = () => {
    if (source === null) throw new AgebootError("IO", `${generationDir}/${item.fileName}: was not root's when ageboot chown opened it; its copy is not made again`);
    return { ...source, close: () => {} };
  };
  const prepared = await prepareCustomPaths([outcome], manifest, generationDir, log, openSource);
  await commitCustomPaths(prepared);
  const failure = outcome.failed ?? outcome.pathFailed;
  if (failure !== null) throw new AgebootError(failure.code, failure.message);
}

/**
 * Give a generation's file its ownership, through a descriptor (the generation
 * is on the root-only mount: nobody else can have put anything there). The mode
 * goes to 0000 first, so that at no moment is the file more readable than its final owner,
 * group and mode allow (the new owner or group never sees the 0400 of root's).
 * Returns whether anything changed; a missing file (the secret failed to
 * install) is logged and skipped: the activation has already reported it.
 * With `keepForCopy`, a file that was root's when opened stays open as the
 * source of its copy (`source`, the caller closes it), with its size from
 * before the fchown: from then on its owner can grow it by name (chmod u+w,
 * truncate -s 1T), and the copy must not follow.
 */
function applyTo(
  path: string,
  ownership: Ownership,
  { kind, name }: Outcome,
  log: Logger,
  keepForCopy: boolean,
  reowning: Reowning,
): { changed: boolean; source: CopySource | null } {
  let fd: number;
  try {
    fd = openSync(path, OPEN_OWN_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      log.warn(`${kind} ${name}: ${path} is not installed; no owner to apply`);
      return { changed: false, source: null };
    }
    throw new AgebootError("IO", `${path}: cannot open (${describeCause(error)})`, { cause: error });
  }
  let kept = false;
  try {
    const info = fstatSync(fd);
    // Defence in depth: only what ageboot makes there (regular, one link, root's or already the owner's).
    if (!info.isFile() || info.nlink !== 1 || (info.uid !== 0 && info.uid !== ownership.uid)) {
      throw new AgebootError(
        "IO",
        `${path}: not the file ageboot installed (a ${info.isFile() ? `file with ${info.nlink} links owned by uid ${info.uid}` : "non-regular file"}); left alone`,
      );
    }
    if (info.uid === ownership.uid && info.gid === ownership.gid && (info.mode & 0o7777) === ownership.mode) return { changed: false, source: null };
    const heldFd = fd;
    const source: CopySource | null = keepForCopy && info.uid === 0 ? { fd, uid: ownership.uid, size: info.size, close: () => closeSync(heldFd) } : null;
    kept = source !== null;
    reowning.begin(path);
    fchmodSync(fd, 0);
    crashPoint("chmod 0000 before chown");
    fchownSync(fd, ownership.uid, ownership.gid);
    crashPoint("chown deferred secret");
    fchmodSync(fd, ownership.mode);
    crashPoint("chmod deferred secret");
    return { changed: true, source };
  } catch (error) {
    kept = false; // the caller never gets the source: closed below
    throw error;
  } finally {
    if (!kept) closeSync(fd);
  }
}
