import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { expect } from "vitest";
import { MOUNT_ATTEMPTS } from "../../src/activation/mount.js";
import type { TestHost } from "./host.js";
import { mountsBelow, unmountAllBelow } from "./host-lifecycle.js";

/**
 * Copies of what ageboot left on a test host (its run/ directory with the
 * secrets mount, and other directories it writes to), so that a crash test
 * builds each starting state once and restores it before every kill point,
 * instead of re-encrypting and re-activating. Copies live on a tmpfs below the
 * host's directory (plaintext stays in memory), which the host fixture
 * unmounts. Every restore is checked against what was saved: type, mode,
 * owner, group, link target and content of every entry, and the secrets
 * mount's file system and options, so a restore can never pass for a state it
 * is not.
 */
export interface SavedState {
  readonly name: string;
  readonly copies: string;
  readonly fingerprint: string[];
}

/** The mount's file system, source and options (without the mount id, which changes). */
function mountDescription(path: string): string | null {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator > 0 && fields[4] === path) return [fields[5], ...fields.slice(separator + 1)].join(" ");
  }
  return null;
}

export class SavedStates {
  private readonly store: string;
  /** The directories ageboot writes to, each restored whole. */
  private readonly tracked: string[];

  constructor(
    private readonly host: TestHost,
    otherDirectories: readonly string[],
  ) {
    this.tracked = [join(host.root, "run"), ...otherDirectories];
    this.store = join(host.root, "saved-states");
    mkdirSync(this.store);
    execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0700", "tmpfs", this.store]);
  }

  /** Remove everything ageboot made, as after a reboot (the secrets mount is unmounted). */
  clear(): void {
    unmountAllBelow(this.host.mountPoint);
    for (const dir of this.tracked) rmSync(dir, { recursive: true, force: true });
  }

  save(name: string): SavedState {
    const copies = join(this.store, name);
    mkdirSync(copies);
    this.tracked.forEach((dir, index) => {
      if (existsSync(dir)) execFileSync("cp", ["-a", dir, join(copies, String(index))]);
    });
    return { name, copies, fingerprint: this.fingerprint() };
  }

  restore(state: SavedState): void {
    this.clear();
    const mount = state.fingerprint.find((line) => line.startsWith("mount "));
    if (mount !== undefined) {
      // How ageboot mounted it (src/activation/mount.ts: a noswap tmpfs, or a ramfs); the fingerprint below checks the options match.
      const attempt = MOUNT_ATTEMPTS.find((candidate) => mount.split(" ")[2] === candidate.fstype);
      if (attempt === undefined) throw new Error(`restoring the saved state "${state.name}": not a mount ageboot makes: ${mount}`);
      mkdirSync(this.host.mountPoint, { recursive: true });
      execFileSync("mount", ["-t", attempt.fstype, "-o", attempt.options, attempt.fstype, this.host.mountPoint]);
    }
    this.tracked.forEach((dir, index) => {
      const copy = join(state.copies, String(index));
      if (!existsSync(copy)) return;
      mkdirSync(dir, { recursive: true });
      execFileSync("cp", ["-a", `${copy}/.`, dir]);
    });
    expect(this.fingerprint(), `restoring the saved state "${state.name}"`).toEqual(state.fingerprint);
  }

  /** One line per entry below the tracked directories, and one for the secrets mount. */
  private fingerprint(): string[] {
    const lines: string[] = [];
    const mount = mountDescription(this.host.mountPoint);
    if (mount !== null) lines.push(`mount ${mount}`);
    if (mountsBelow(this.host.mountPoint).length > (mount === null ? 0 : 1)) lines.push("more than one mount at or below the mount point");
    const walk = (path: string) => {
      const info = lstatSync(path);
      const what = info.isSymbolicLink()
        ? `-> ${readlinkSync(path)}`
        : info.isFile()
          ? createHash("sha256").update(readFileSync(path)).digest("hex")
          : info.isDirectory()
            ? "dir"
            : "other";
      lines.push(`${relative(this.host.root, path)} ${(info.mode & 0o177777).toString(8)} ${info.uid}:${info.gid} ${what}`);
      if (info.isDirectory()) for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    };
    for (const dir of this.tracked) if (existsSync(dir)) walk(dir);
    return lines;
  }
}
