// How a container consumes secrets (docs/containers.md): bind the whole mount
// point, read through its relative `current` link. Real bind mounts, as a
// container runtime makes them, in the test's private mount namespace.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { TestHost } from "../helpers/host.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

// The fixture unmounts the binds below the host's directory too.
const host = hostPerFile();
const containerRoot = join(host.root, "container");

function activate(value: string): void {
  host.keepGenerations = 0; // prune as hard as possible: only the current generation survives
  host.writeManifest({ token: { file: host.encrypt(value), mode: "0444" }, "nested/cert": { file: host.encrypt(`cert-${value}`), mode: "0444" } });
  const result = host.activate();
  expect(result.status, result.stderr).toBe(0);
}

function bindReadOnly(source: string, target: string): void {
  mkdirSync(target, { recursive: true });
  execFileSync("mount", ["--bind", source, target]);
  execFileSync("mount", ["-o", "remount,bind,ro", target]);
}

it("a container that binds the mount point sees every rotation, and pruning never breaks it", () => {
  activate("v0");
  // The container's /run/agenix.d is the host's mount, bound read-only.
  const inContainer = join(containerRoot, "run/agenix.d");
  bindReadOnly(host.mountPoint, inContainer);
  const read = (name: string) => TestHost.stripCanary(readFileSync(join(inContainer, "current", name), "utf8"), name);
  expect(read("token")).toBe("v0");
  for (let round = 1; round <= 30; round++) {
    activate(`v${round}`);
    // Right after the swap, through the bind, the new value; never an error.
    expect(read("token")).toBe(`v${round}`);
    expect(read("nested/cert")).toBe(`cert-v${round}`);
  }
});

it("binding the /run/agenix symlink instead pins one generation, which pruning then deletes", () => {
  // What not to do, shown: a bind mount resolves the symlink once.
  const pinned = join(containerRoot, "pinned");
  bindReadOnly(host.secretsDir, pinned);
  expect(TestHost.stripCanary(readFileSync(join(pinned, "token"), "utf8"), "token")).toBe("v30");
  activate("v31");
  activate("v32"); // keepGenerations 0: the pinned generation is gone
  expect(() => readFileSync(join(pinned, "token"))).toThrow(/ENOENT/);
});
