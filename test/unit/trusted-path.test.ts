// Invariant 7 at plan time: a symlink on the way to a custom path is followed
// only when the directory holding it is writable by root alone.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { untrustedSymlinkIn } from "../../src/activation/trusted-path.js";

const runningAsRoot = process.getuid?.() === 0;
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "ageboot-trusted-"));
  chmodSync(root, 0o755);
  mkdirSync(join(root, "target"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** `root/holder/link -> root/target`, with `holder` given `mode`. */
function linkIn(mode: number): string {
  const holder = join(root, "holder");
  mkdirSync(holder);
  symlinkSync(join(root, "target"), join(holder, "link"));
  chmodSync(holder, mode);
  return join(holder, "link", "secret");
}

describe("untrustedSymlinkIn", () => {
  it("accepts a path with no symlink, and one whose directories do not exist yet", () => {
    expect(untrustedSymlinkIn(join(root, "target", "secret"))).toBeNull();
    expect(untrustedSymlinkIn(join(root, "not", "yet", "there", "secret"))).toBeNull();
  });

  it.each([
    ["writable by others", 0o777],
    ["writable by the group", 0o775],
    ["sticky but world-writable, like /tmp", 0o1777],
  ])("refuses a symlink in a directory %s", (_, mode) => {
    expect(untrustedSymlinkIn(linkIn(mode))).toMatch(/is a symlink in .*holder, which a user other than root can write to; refusing to follow it/);
  });

  it(`a symlink in a 0755 directory of the running user is ${runningAsRoot ? "followed (root owns it)" : "refused (not root's)"}`, () => {
    const verdict = untrustedSymlinkIn(linkIn(0o755));
    if (runningAsRoot) expect(verdict).toBeNull();
    else expect(verdict).toMatch(/refusing to follow it/);
  });

  it("only the directories are checked: the last component is replaced by rename, never followed", () => {
    symlinkSync(join(root, "target"), join(root, "last"));
    expect(untrustedSymlinkIn(join(root, "last"))).toBeNull();
  });

  it("a loop of symlinks ends with an answer", () => {
    if (!runningAsRoot) return; // only root-owned directories are walked through at all
    symlinkSync(join(root, "b"), join(root, "a"));
    symlinkSync(join(root, "a"), join(root, "b"));
    expect(untrustedSymlinkIn(join(root, "a", "secret"))).toMatch(/too many symlinks|refusing/);
  });
});
