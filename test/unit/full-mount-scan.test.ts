// The full-mount explanation walks the mount: never through a symlink (one may
// be swapped in for a directory), names only what is there, and streams.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { explainFullMount, isFullMountErrno } from "../../src/activation/full-mount.js";

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("explaining a full mount", () => {
  it("never descends through a symlink, and escapes nothing it need not (the log does)", () => {
    root = mkdtempSync(join(tmpdir(), "full-mount-"));
    const mount = join(root, "mount");
    const elsewhere = join(root, "elsewhere");
    mkdirSync(join(mount, "1"), { recursive: true });
    mkdirSync(elsewhere);
    writeFileSync(join(mount, "1", "small"), "x".repeat(10));
    writeFileSync(join(elsewhere, "huge"), Buffer.alloc(2 * 1024 * 1024));
    // A generation-like name that is a link to a directory outside the mount.
    symlinkSync(elsewhere, join(mount, "2"));
    const text = explainFullMount(mount);
    expect(text).toContain("its largest files: 1/small (0.0 MiB, owner uid");
    expect(text).not.toContain("huge");
  });

  it("knows a full mount by error code", () => {
    expect(isFullMountErrno("ENOSPC")).toBe(true);
    expect(isFullMountErrno("EDQUOT")).toBe(true);
    expect(isFullMountErrno("EIO")).toBe(false);
    expect(isFullMountErrno(undefined)).toBe(false);
  });
});
