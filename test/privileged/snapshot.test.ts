// The start-up snapshot and its launcher (dist/ageboot.blob, dist/ageboot;
// scripts/build.mjs, docs/performance.md). The rest of the suite already runs
// every command from the snapshot (test/helpers/tools.ts); this file covers what
// is particular to it: the launcher itself, its fallback to the plain bundle,
// state that must be read when a run starts rather than when the snapshot was
// built, the staging thread, and that nothing from the build's warm-up stays.
import type { SpawnSyncReturns } from "node:child_process";
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { launcherPath, repoRoot, snapshotPath } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";
import { run } from "../helpers/tools.js";

beforeAll(() => requirePrivateNamespace());

const newHost = hostPerTest();

/** Run a launcher the way a user or systemd does: the script itself, not node. Plaintext may only reach stdout when `input` asks `decrypt` for it. */
function launch(launcher: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: Buffer): SpawnSyncReturns<string> {
  return runAgeboot(args, { via: launcher, env, ...(input === undefined ? {} : { input, plaintextOnStdout: true }) });
}

describe("the launcher", () => {
  it("starts node from the snapshot, also through a symlink, as /usr/bin/ageboot would be", () => {
    const direct = launch(launcherPath, ["--log-level", "debug", "--version"]);
    expect(direct.status).toBe(0);
    expect(direct.stdout).toMatch(/^ageboot \d+\.\d+\.\d+\n$/);
    expect(direct.stderr).toContain("from the start-up snapshot");

    const { dir, cleanup } = tempDir();
    try {
      const link = join(dir, "ageboot");
      symlinkSync(launcherPath, link);
      const linked = launch(link, ["--log-level", "debug", "--version"]);
      expect(linked.status).toBe(0);
      expect(linked.stderr).toContain("from the start-up snapshot");
    } finally {
      cleanup();
    }
  });

  it("passes arguments, stdin, stdout and exit statuses through unchanged", () => {
    const host = newHost();
    const file = host.encrypt("through the launcher");
    const decrypted = launch(launcherPath, ["decrypt", "-i", host.key, "-"], {}, readFileSync(file));
    expect(decrypted.status, decrypted.stderr).toBe(0);
    expect(TestHost.stripCanary(decrypted.stdout, "stdout")).toBe("through the launcher");
    expect(launch(launcherPath, ["frobnicate"]).status).toBe(2);
    expect(launch(launcherPath, ["decrypt", "-i", join(host.root, "no-such-key"), file]).status).toBe(3);
    // A name that looks like one of node's own options reaches ageboot, not node.
    expect(launch(launcherPath, ["--version"]).stdout).toMatch(/^ageboot /);
  });

  /** Activate one secret with a copy of dist/ whose blob `damage` changed; the bundle must do the work. */
  function activateWithBlob(damage: (blob: Buffer) => Buffer, logLevel = "debug"): SpawnSyncReturns<string> {
    const { dir, cleanup } = tempDir();
    try {
      const dist = join(dir, "dist");
      cpSync(join(repoRoot, "dist"), dist, { recursive: true });
      writeFileSync(join(dist, "ageboot.blob"), damage(readFileSync(join(dist, "ageboot.blob"))));
      const host = newHost();
      host.writeManifest({ token: { file: host.encrypt("fallback value") } });
      const result = launch(join(dist, "ageboot"), ["--log-level", logLevel, "activate", "--manifest", host.manifestPath]);
      expect(result.status, result.stderr).toBe(0);
      if (logLevel === "debug") expect(result.stderr).toContain("from the bundle");
      expect(host.read("token")).toBe("fallback value");
      return result;
    } finally {
      cleanup();
    }
  }

  it("falls back to the plain bundle when the snapshot was built by another Node.js, and says so", () => {
    const result = activateWithBlob((blob) => {
      // The blob starts with the version of the node that built it; make it another one.
      const at = blob.subarray(0, 256).indexOf(Buffer.from(process.versions.node));
      expect(at).toBeGreaterThan(0);
      Buffer.from(process.versions.node.replace(/\d/g, (digit) => String((Number(digit) + 1) % 10))).copy(blob, at);
      return blob;
    });
    expect(result.stderr).toContain("ageboot.blob was built by another Node.js; running without it");
  });

  it("says nothing of it below debug level: a package built on another machine is a normal state, not a fault", () => {
    const result = activateWithBlob((blob) => {
      const at = blob.subarray(0, 256).indexOf(Buffer.from(process.versions.node));
      Buffer.from(process.versions.node.replace(/\d/g, (digit) => String((Number(digit) + 1) % 10))).copy(blob, at);
      return blob;
    }, "info");
    expect(result.stderr).not.toContain("ageboot.blob");
    expect(result.stderr).toMatch(/generation 1 is current/);
  });

  it("falls back to the plain bundle when the snapshot is damaged and node dies loading it", () => {
    // Cut short, as a full disk during a build could leave it; node crashes (SIGSEGV) reading it.
    const truncated = activateWithBlob((blob) => blob.subarray(0, 1000));
    expect(truncated.stderr).toMatch(/ageboot\.blob could not be loaded \(node died of signal \d+\); running without it/);
  });
});

describe("runs from the snapshot", () => {
  it("read their environment when they start, not when the snapshot was built", () => {
    const host = newHost();
    host.writeManifest({ token: { file: host.encrypt("env") } });
    const json = launch(launcherPath, ["activate", "--manifest", host.manifestPath], { AGEBOOT_LOG_FORMAT: "json" });
    expect(json.status, json.stderr).toBe(0);
    const last = JSON.parse(json.stderr.trim().split("\n").at(-1)!) as { msg: string };
    expect(last.msg).toMatch(/^generation 1 is current/);

    // The crash tests' step counter (src/fault-injection.ts) is configured per run.
    const steps = join(host.root, "steps.txt");
    const counted = launch(launcherPath, ["activate", "--manifest", host.manifestPath], { AGEBOOT_TEST_COUNT_STEPS: steps });
    expect(counted.status, counted.stderr).toBe(0);
    expect(readFileSync(steps, "utf8")).toContain("swap symlink");
  });

  it.skipIf(cpus().length < 2)(
    "stage large sets on two threads, the worker found beside the snapshot",
    () => {
      const host = newHost();
      const count = 300;
      // Above the 256 secrets from which a second staging thread is started (src/activation/stage-parallel.ts).
      const plain = Array.from({ length: count }, (_, index) => `value-${index}`);
      const files = plain.map((value) => host.encrypt(value));
      host.writeManifest(Object.fromEntries(files.map((file, index) => [`s${index}`, { file }])));
      const result = launch(launcherPath, ["--log-level", "debug", "activate", "--manifest", host.manifestPath]);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/stage \(2 threads\) done/);
      for (const [index, value] of plain.entries()) expect(host.read(`s${index}`)).toBe(value);
    },
    120_000,
  );
});

it("the snapshot holds nothing of its warm-up's keys or values", () => {
  // The build activates the public demo (demo/) to compile the activation path
  // into the snapshot; no key or value of it may stay in the heap it saves.
  const blob = readFileSync(snapshotPath);
  const demo = join(repoRoot, "demo");
  const keyBodies = ["DEMO-ONLY-ssh_host_ed25519_key", "DEMO-ONLY-ssh_host_rsa_key"].flatMap((name) =>
    readFileSync(join(demo, name), "utf8")
      .split("\n")
      .filter((line) => line.length >= 32 && !line.startsWith("-----")),
  );
  const values = ["db-password", "api-token"].map((name) => run("age", ["--decrypt", "-i", join(demo, "DEMO-ONLY-ssh_host_ed25519_key"), join(demo, "secrets", `${name}.age`)]));
  expect(keyBodies.length).toBeGreaterThan(4);
  for (const needle of [...keyBodies.map((line) => Buffer.from(line)), ...values]) {
    expect(needle.length).toBeGreaterThan(8);
    expect(blob.includes(needle)).toBe(false);
  }
});
