// The launcher and the bundle's V8 code cache (dist/ageboot, dist/start.cjs,
// dist/cli.cache; scripts/build.mjs, src/code-cache/, docs/performance.md). The
// rest of the suite already runs every command through dist/start.cjs with the
// cache (test/helpers/ageboot-process.ts); this file covers what is particular
// to it: the launcher itself, a cache that cannot be used (another Node.js,
// other flags, damaged, missing), state read when a run starts rather than at
// the build's warm-up, the staging thread, and that nothing from the warm-up stays.
import type { SpawnSyncReturns } from "node:child_process";
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { codeCachePath, launcherPath, repoRoot, testBuildLauncherPath } from "../helpers/paths.js";
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
  it("runs the bundle with its code cache, also through a symlink, as /usr/bin/ageboot would be", () => {
    const direct = launch(launcherPath, ["--log-level", "debug", "--version"]);
    expect(direct.status).toBe(0);
    expect(direct.stdout).toMatch(/^ageboot \d+\.\d+\.\d+\n$/);
    expect(direct.stderr).toContain("from the code-cached bundle");

    const { dir, cleanup } = tempDir();
    try {
      const link = join(dir, "ageboot");
      symlinkSync(launcherPath, link);
      const linked = launch(link, ["--log-level", "debug", "--version"]);
      expect(linked.status).toBe(0);
      expect(linked.stderr).toContain("from the code-cached bundle");
    } finally {
      cleanup();
    }
  });

  it("through a symlink it cannot resolve (no readlink on PATH), it refuses to run, and never runs a start.cjs from the working directory", () => {
    const { dir, cleanup } = tempDir();
    try {
      const link = join(dir, "ageboot");
      symlinkSync(launcherPath, link);
      writeFileSync(join(dir, "start.cjs"), 'process.stdout.write("PLANTED START.CJS RAN\\n");');
      const refused = runAgeboot(["--version"], { via: link, cwd: dir, env: { PATH: "/nonexistent" } });
      expect(refused.status).toBe(5);
      expect(refused.stdout).not.toContain("PLANTED");
      expect(refused.stderr).toContain("cannot tell where the launcher is");
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
});

describe("a code cache that cannot be used only costs time", () => {
  /**
   * Activate one secret with a copy of dist/ whose cache `damage` changed (null: removed); the bundle must do the work.
   * `nodeFlag`: the copy's launcher runs node with this flag (through a wrapper named as its node at install,
   * scripts/install-package.sh's line; the launcher drops NODE_OPTIONS).
   */
  function activateWithCache(damage: ((cache: Buffer) => Buffer) | null, nodeFlag?: string, logLevel = "debug"): SpawnSyncReturns<string> {
    const { dir, cleanup } = tempDir();
    try {
      const dist = join(dir, "dist");
      cpSync(join(repoRoot, "dist"), dist, { recursive: true });
      if (nodeFlag !== undefined) {
        const wrapper = join(dir, "node-with-flag");
        writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${nodeFlag}' "$@"\n`, { mode: 0o755 });
        const launcher = join(dist, "ageboot");
        writeFileSync(launcher, readFileSync(launcher, "utf8").replace(/^installed_node=$/m, `installed_node='${wrapper}'`));
      }
      const cache = join(dist, "cli.cache");
      if (damage === null) rmSync(cache);
      else writeFileSync(cache, damage(readFileSync(cache)));
      const host = newHost();
      host.writeManifest({ token: { file: host.encrypt("without the cache") } });
      const result = launch(join(dist, "ageboot"), ["--log-level", logLevel, "activate", "--manifest", host.manifestPath]);
      expect(result.status, result.stderr).toBe(0);
      expect(host.read("token")).toBe("without the cache");
      return result;
    } finally {
      cleanup();
    }
  }

  it("made by another Node.js or with other flags: V8 refuses it, and says so at debug level only", () => {
    // V8 checks its version and its flags; a flag given to node is the difference a test can make.
    const flagged = activateWithCache((cache) => cache, "--stack-trace-limit=5");
    expect(flagged.stderr).toContain("from the bundle (cli.cache rejected by V8");
    const quiet = activateWithCache((cache) => cache, "--stack-trace-limit=5", "info");
    expect(quiet.stderr).not.toContain("cli.cache");
    expect(quiet.stderr).toMatch(/generation 1 is current/);
  });

  it("damaged (one bit, or cut short, as a full disk could leave it): never given to V8", () => {
    const flipped = activateWithCache((cache) => {
      cache[Math.floor(cache.length / 2)]! ^= 1;
      return cache;
    });
    expect(flipped.stderr).toContain("from the bundle (cli.cache does not match it)");
    const truncated = activateWithCache((cache) => cache.subarray(0, 1000));
    expect(truncated.stderr).toContain("from the bundle (cli.cache does not match it)");
  });

  it("missing", () => {
    expect(activateWithCache(null).stderr).toContain("from the bundle (no cli.cache)");
  });
});

describe("runs with the code cache", () => {
  it("read their environment when they start, not when the build warmed the cache up", () => {
    const host = newHost();
    host.writeManifest({ token: { file: host.encrypt("env") } });
    const json = launch(launcherPath, ["activate", "--manifest", host.manifestPath], { AGEBOOT_LOG_FORMAT: "json" });
    expect(json.status, json.stderr).toBe(0);
    const last = JSON.parse(json.stderr.trim().split("\n").at(-1)!) as { msg: string };
    expect(last.msg).toMatch(/^generation 1 is current/);

    // The crash tests' step counter (src/fault-injection.ts; the test build's) is configured per run.
    const steps = join(host.root, "steps.txt");
    const counted = launch(testBuildLauncherPath, ["activate", "--manifest", host.manifestPath], { AGEBOOT_TEST_COUNT_STEPS: steps });
    expect(counted.status, counted.stderr).toBe(0);
    expect(readFileSync(steps, "utf8")).toContain("swap symlink");
  });

  it.skipIf(cpus().length < 2)(
    "stage large sets on two threads, the worker found beside the bundle",
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

it("the code cache holds nothing of its warm-up's keys or values", () => {
  // The build activates the public demo (demo/) to compile the activation path
  // before it takes the cache. A code cache holds code, not the heap; this
  // checks that no key or value of the demo reached it all the same.
  const cache = readFileSync(codeCachePath);
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
    expect(cache.includes(needle)).toBe(false);
  }
});
