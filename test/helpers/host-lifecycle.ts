import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, afterEach } from "vitest";
import { TestHost } from "./host.js";

/**
 * The fixture every privileged test file uses for its pretend hosts: whatever
 * a test did or how it failed, afterwards the host's directory is searched for
 * the plaintext canary outside memory-backed mounts, every mount below it is
 * unmounted (deepest first), and it is removed. What ageboot printed was
 * already checked for the canary (test/helpers/ageboot-process.ts).
 */

interface MountEntry {
  path: string;
  fstype: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Every mount at or below `dir` in this mount namespace, deepest (and latest) first. */
export function mountsBelow(dir: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator < 0 || fields.length < 5) continue;
    const path = unescapeMountinfo(fields[4]!);
    if (path === dir || path.startsWith(`${dir}/`)) entries.push({ path, fstype: fields[separator + 1] ?? "" });
  }
  return entries.reverse().sort((a, b) => b.path.split("/").length - a.path.split("/").length);
}

/** Unmount everything at or below `dir`; throws when something stays mounted (the directory must then not be removed). */
export function unmountAllBelow(dir: string): void {
  for (let round = 0; round < 5 && mountsBelow(dir).length > 0; round++) {
    for (const { path } of mountsBelow(dir)) {
      if (spawnSync("umount", [path]).status !== 0) spawnSync("umount", ["--lazy", path]);
    }
  }
  const left = mountsBelow(dir);
  if (left.length > 0) throw new Error(`still mounted after the test: ${left.map((entry) => entry.path).join(", ")}`);
}

const MEMORY_FILESYSTEMS = new Set(["ramfs", "tmpfs"]);

/** Check for plaintext on disk, then unmount and remove the host's directory, whatever the check found. */
export function retireHost(host: TestHost): void {
  try {
    const memoryMounts = mountsBelow(host.root)
      .filter((entry) => MEMORY_FILESYSTEMS.has(entry.fstype))
      .map((entry) => entry.path);
    host.assertNoPlaintextOnDisk(memoryMounts);
  } finally {
    unmountAllBelow(host.root);
    host.cleanup();
  }
}

/** A function that makes a new host for the current test; each is retired after that test. */
export function hostPerTest(): () => TestHost {
  const hosts: TestHost[] = [];
  afterEach(() => {
    const errors: unknown[] = [];
    for (const host of hosts.splice(0)) {
      try {
        retireHost(host);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return () => {
    const host = new TestHost();
    hosts.push(host);
    return host;
  };
}

/** One host shared by every test of the file, retired after the file. */
export function hostPerFile(): TestHost {
  const host = new TestHost();
  afterAll(() => retireHost(host));
  return host;
}
