// Invariant 7 for custom paths: the directory that will hold a custom path is
// reached from "/" by descriptor, component by component, and refused when a
// user other than root or the secret's owner could redirect what is made in it.
import { chmodSync, chownSync, existsSync, fstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { holdParentDirectory, type TrustedOwners, trustedFor } from "../../src/activation/held-directory.js";

const me = process.getuid?.() ?? 0;
const runningAsRoot = me === 0;
const myGroup = process.getgid?.() ?? 0;
/** Who may own the directories: root and, standing in for the secret's owner, the running user (and group). */
const trusted = trustedFor(me, [myGroup]);
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "ageboot-held-"));
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

function hold(path: string, owners: TrustedOwners = trusted) {
  const held = holdParentDirectory(path, owners);
  try {
    return fstatSync(held.fd).ino;
  } finally {
    held.close();
  }
}

describe("holdParentDirectory", () => {
  it("holds the directory of a path, and creates the missing ones, root's (or the running user's) and 0755", () => {
    expect(hold(join(root, "target", "secret"))).toBe(statSync(join(root, "target")).ino);
    expect(hold(join(root, "not", "yet", "there", "secret"))).toBe(statSync(join(root, "not/yet/there")).ino);
    expect(statSync(join(root, "not/yet")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(root, "not/yet")).uid).toBe(me);
  });

  it.each([
    ["writable by others", 0o777],
    ["writable by the group", 0o775],
    ["sticky but world-writable, like /tmp", 0o1777],
  ])("refuses a symlink in a directory %s", (_, mode) => {
    expect(() => hold(linkIn(mode))).toThrow(/is a symlink in .*holder, which a user other than root can write to; refusing to follow it/);
  });

  it(`a symlink in a 0755 directory of the running user is ${runningAsRoot ? "followed (root owns it)" : "refused (not root's)"}`, () => {
    const path = linkIn(0o755);
    if (runningAsRoot) expect(hold(path)).toBe(statSync(join(root, "target")).ino);
    else expect(() => hold(path)).toThrow(/refusing to follow it/);
  });

  it("only the directories are walked: the last component is left to the caller (replaced by rename, never followed)", () => {
    symlinkSync(join(root, "target"), join(root, "last"));
    expect(hold(join(root, "last"))).toBe(statSync(root).ino);
  });

  it("a component that is a file is not a directory", () => {
    writeFileSync(join(root, "file"), "");
    expect(() => hold(join(root, "file", "secret"))).toThrow(/file is not a directory/);
  });

  it("a directory owned by someone not trusted is refused, and nothing is created under it", () => {
    expect(() => hold(join(root, "target", "sub", "secret"), { uids: new Set([4242]), gids: new Set([0]) })).toThrow(
      /belongs to uid \d+, which is neither root nor the secret's owner/,
    );
    expect(existsSync(join(root, "target", "sub"))).toBe(false);
  });

  it("a world-writable directory is refused unless it is sticky", () => {
    chmodSync(join(root, "target"), 0o777);
    expect(() => hold(join(root, "target", "secret"))).toThrow(/is writable by every user and not sticky \(mode 777\)/);
    chmodSync(join(root, "target"), 0o1777);
    expect(hold(join(root, "target", "secret"))).toBe(statSync(join(root, "target")).ino);
  });

  it("a group-writable directory is refused unless its group is one the secret is given to, or it is sticky", () => {
    const target = join(root, "target");
    // As root the directory is given a group of nobody's (4243); otherwise it keeps the running user's.
    if (runningAsRoot) chownSync(target, 0, 4243);
    chmodSync(target, 0o775);
    const group = statSync(target).gid;
    // For a secret given to that group: allowed (unless it is root's group, never trusted with write).
    if (group !== 0) expect(hold(join(target, "secret"), trustedFor(me, [group]))).toBe(statSync(target).ino);
    // For a secret given to no group, or another: its members could swap what ageboot installs.
    for (const groups of [[], [4244]]) {
      expect(() => hold(join(target, "secret"), trustedFor(me, groups))).toThrow(
        /is writable by group \d+ \(mode 775; or through an ACL, whose mask shows there\), which is not a group the secret is given to/,
      );
    }
    expect(existsSync(join(target, "secret"))).toBe(false);
    // Sticky: only an entry's owner may rename or remove it.
    chmodSync(target, 0o1775);
    expect(hold(join(target, "secret"), trustedFor(me, []))).toBe(statSync(target).ino);
  });

  it("root's group is never trusted with write: on a root:root directory that bit is usually an ACL's mask", () => {
    if (!runningAsRoot) return; // only root can give a directory to gid 0
    const target = join(root, "target");
    chownSync(target, 0, 0);
    chmodSync(target, 0o775);
    expect(() => hold(join(target, "secret"), trustedFor(me, [0]))).toThrow(/is writable by group 0 \(mode 775/);
  });

  it("a loop of symlinks ends with an answer", () => {
    if (!runningAsRoot) return; // only root-owned directories are walked through at all
    symlinkSync(join(root, "b"), join(root, "a"));
    symlinkSync(join(root, "a"), join(root, "b"));
    expect(() => hold(join(root, "a", "secret"))).toThrow(/too many symlinks/);
  });
});
