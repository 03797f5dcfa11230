// What ageboot mounts for plaintext, and what a secret's owner can do to it
// (issue 22, Why 4): a tmpfs that is never swapped (noswap, Linux 6.4+) with a
// size limit, a ramfs on kernels without noswap, a memory mount someone else
// made used as it is; and the owner who appends to their own file until the
// mount is full. Real mounts in the suite's private mount namespace, real
// users (setpriv), the real CLI.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";

beforeAll(requirePrivateNamespace);

const newHost = hostPerTest();
const { alice, bob } = TEST_USERS;
const { dir: scratch, cleanup } = tempDir("ageboot-mount-");
afterAll(cleanup);

/** The mount exactly at `path`: per-mount options, file system type and its own options. */
function mountAt(path: string): { options: string[]; fstype: string; superOptions: string[] } {
  const line = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((entry) => entry.split(" ")[4] === path)
    .at(-1);
  if (!line) throw new Error(`nothing mounted on ${path}`);
  const fields = line.split(" ");
  const separator = fields.indexOf("-");
  return { options: fields[5]!.split(","), fstype: fields[separator + 1]!, superOptions: fields[separator + 3]!.split(",") };
}

/** Whether this kernel's tmpfs takes noswap (Linux 6.4+): tried on a scratch mount. */
function kernelHasNoswap(): boolean {
  const point = join(scratch, "probe");
  mkdirSync(point, { recursive: true });
  const tried = spawnSync("mount", ["-t", "tmpfs", "-o", "noswap,size=1m", "tmpfs", point]);
  if (tried.status === 0) execFileSync("umount", [point]);
  return tried.status === 0;
}

/** A tenth of MemTotal, in bytes: what size=10% gives, within a few pages (the kernel counts its own total of pages). */
function tenthOfRamBytes(): number {
  const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]);
  return (memTotalKiB * 1024) / 10;
}

/** The size= a tmpfs shows, in bytes. */
function sizeOption(superOptions: string[]): number {
  const size = superOptions.find((option) => option.startsWith("size="));
  if (!size?.endsWith("k")) throw new Error(`no size=...k in ${superOptions.join(",")}`);
  return Number(size.slice("size=".length, -1)) * 1024;
}

function statusJson(manifestPath: string): { secretsMount: unknown } {
  const result = runAgeboot(["status", "--json", "--manifest", manifestPath]);
  return JSON.parse(result.stdout) as { secretsMount: unknown };
}

describe("the mount ageboot makes", () => {
  it("is a tmpfs that is never swapped, with a tenth of RAM at most, and the log and status say so", () => {
    // This machine's kernel has noswap (6.4+); the fallback is the next test.
    expect(kernelHasNoswap()).toBe(true);
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    const mount = mountAt(host.mountPoint);
    expect(mount.fstype).toBe("tmpfs");
    expect(mount.options).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(mount.superOptions).toContain("noswap");
    const size = sizeOption(mount.superOptions);
    expect(Math.abs(size - tenthOfRamBytes())).toBeLessThan(tenthOfRamBytes() / 1000);
    const mebibytes = (size / 1024 / 1024).toFixed(0);
    expect(result.stderr).toContain(`mounted tmpfs (noswap, size ${mebibytes} MiB) on ${host.mountPoint}`);
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "tmpfs", swappable: false, sizeLimitBytes: size });
    expect(runAgeboot(["status", "--manifest", host.manifestPath]).stdout).toContain(`mount       tmpfs (noswap, size ${mebibytes} MiB)\n`);
  });

  it("is a ramfs when the kernel refuses noswap, and the log says why", () => {
    // A kernel before 6.4 refuses noswap with EINVAL, which mount(8) reports as
    // below (exit 32). This machine's kernel has noswap, so a mount(8) in front
    // of the real one refuses it the same way: the one stand-in in this file.
    const bin = join(scratch, "old-kernel-bin");
    mkdirSync(bin, { recursive: true });
    const realMount = execFileSync("sh", ["-c", "command -v mount"], { encoding: "utf8" }).trim();
    writeFileSync(
      join(bin, "mount"),
      `#!/bin/sh\ncase "$*" in *noswap*) echo "mount: $4: wrong fs type, bad option, bad superblock on tmpfs, missing codepage or helper program, or other error." >&2; exit 32;; esac\nexec ${realMount} "$@"\n`,
      { mode: 0o755 },
    );
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activateWith({ env: { PATH: `${bin}:${process.env["PATH"]}` } });
    expect(result.status).toBe(0);
    expect(mountAt(host.mountPoint).fstype).toBe("ramfs");
    expect(mountAt(host.mountPoint).options).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(result.stderr).toContain(`mounted ramfs (never swapped, no size limit) on ${host.mountPoint} (refused: tmpfs -o nodev,nosuid,mode=0751,noswap,size=10%: mount: `);
    expect(result.stderr).toContain("a tmpfs with noswap needs Linux 6.4 or later");
    expect(host.read("a")).toBe("a");
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "ramfs", swappable: false, sizeLimitBytes: null });
  });

  it("a tmpfs someone else mounted without noswap is used, with a warning that it can be swapped", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,size=1m,mode=0751", "tmpfs", host.mountPoint]);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${host.mountPoint}: the tmpfs mounted there has no noswap: the kernel may write its plaintext to swap`);
    expect(mountAt(host.mountPoint).superOptions).toContain("size=1024k");
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "tmpfs", swappable: true, sizeLimitBytes: 1024 * 1024 });
  });
});

describe("a secret's owner appends to their own file until the mount is full", () => {
  it("pins no more than the mount's size; other secrets stay readable; the next rotation fails naming the file, and passes once it is emptied", () => {
    const host = newHost();
    chmodSync(host.root, 0o711); // alice passes through to the mount, as through / to /run
    host.writeManifest({
      "alice-token": { file: host.encrypt("alice-1"), owner: alice.name, mode: "0400" },
      "bob-token": { file: host.encrypt("bob-1"), owner: bob.name, mode: "0400" },
      "root-key": { file: host.encrypt("root-1") },
    });
    expect(host.activate().status).toBe(0);
    // The same tmpfs ageboot mounted, made 8 MiB instead of a tenth of RAM, so
    // that filling it stays small: the limit's size is all that differs.
    execFileSync("mount", ["-o", "remount,size=8m", host.mountPoint]);
    expect(mountAt(host.mountPoint).superOptions).toEqual(expect.arrayContaining(["noswap", "size=8192k"]));

    // alice owns her file: she makes it writable and appends until the kernel says no.
    const aliceFile = join(host.mountPoint, "1", "alice-token");
    const attack = spawnSync(
      "setpriv",
      [`--reuid=${alice.uid}`, `--regid=${alice.gid}`, "--clear-groups", "sh", "-c", 'chmod u+w "$1" && cat /dev/zero >> "$1"', "sh", aliceFile],
      {
        encoding: "utf8",
      },
    );
    expect(attack.status).not.toBe(0);
    expect(attack.stderr).toMatch(/No space left on device/);
    const grown = statSync(aliceFile).size;
    expect(grown).toBeGreaterThan(7 * 1024 * 1024);
    expect(grown).toBeLessThanOrEqual(8 * 1024 * 1024);
    // What she pinned is bounded by the mount; everyone else's secrets are as they were.
    expect(host.read("bob-token")).toBe("bob-1");
    expect(host.read("root-key")).toBe("root-1");

    // The next rotation cannot stage: it fails, keeps generation 1, and says whose file fills the mount.
    host.writeManifest({
      "alice-token": { file: host.encrypt("alice-1"), owner: alice.name, mode: "0400" },
      "bob-token": { file: host.encrypt("bob-2"), owner: bob.name, mode: "0400" },
      "root-key": { file: host.encrypt("root-2".repeat(200_000)) },
    });
    const blocked = host.activate();
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toContain("the secrets mount is full (ENOSPC)");
    expect(blocked.stderr).toMatch(new RegExp(`is full, so this run could not stage every secret; its largest files: 1/alice-token \\([0-9.]+ MiB, owner uid ${alice.uid}\\)`));
    expect(blocked.stderr).toContain("Empty it (truncate -s 0)");
    expect(host.read("bob-token")).toBe("bob-1");
    expect(host.read("root-key")).toBe("root-1");

    // Emptied by root, as the message says: the rotation goes through.
    execFileSync("truncate", ["-s", "0", aliceFile]);
    const rotated = host.activate();
    expect(rotated.status).toBe(0);
    expect(host.read("bob-token")).toBe("bob-2");
    expect(host.read("root-key")).toBe("root-2".repeat(200_000));
  });
});
