// Custom paths of secrets removed from the manifest (issue 12, item 11): ageboot
// removes the copy or the symlink it installed, and only when what is there is
// still what it put there; a run killed before the removal leaves it to the next.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const newHost = hostPerTest();

function setUp() {
  const host = newHost();
  const home = join(host.root, "home/alice");
  mkdirSync(home, { recursive: true });
  chownSync(home, alice.uid, alice.gid);
  const paths = { copy: join(home, "copy"), link: join(host.root, "etc/app/link"), kept: join(host.root, "etc/app/kept") };
  const all = {
    kept: { file: host.encrypt("kept"), path: paths.kept },
    copied: { file: host.encrypt("copied"), path: paths.copy, symlink: false, owner: alice.name },
    linked: { file: host.encrypt("linked"), path: paths.link },
  };
  const onlyKept = { kept: all.kept };
  return { host, home, paths, all, onlyKept };
}

function installed(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

describe("custom paths of removed secrets", () => {
  it("are removed, the copy and the symlink; a declared one stays", () => {
    const { host, paths, all, onlyKept } = setUp();
    host.writeManifest(all);
    expect(host.activate().status).toBe(0);
    expect([installed(paths.copy), installed(paths.link), installed(paths.kept)]).toEqual([true, true, true]);
    const record = join(host.mountPoint, ".custom-paths-1.json");
    expect(lstatSync(record).uid).toBe(0);
    expect(lstatSync(record).mode & 0o7777).toBe(0o400);
    host.writeManifest(onlyKept);
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(installed(paths.copy), "the copy of a removed secret").toBe(false);
    expect(installed(paths.link), "the symlink of a removed secret").toBe(false);
    expect(TestHost.stripCanary(readFileSync(paths.kept, "utf8"), paths.kept)).toBe("kept");
    expect(result.stderr).toContain(`secret copied was removed from the manifest; removed its copy ${paths.copy}`);
    // The record goes with its generation once it is pruned.
    expect(host.activate().status).toBe(0);
    expect(
      readdirSync(host.mountPoint)
        .filter((name) => name.startsWith(".custom-paths-"))
        .sort(),
    ).toEqual([".custom-paths-2.json", ".custom-paths-3.json"]);
  });

  it("are left in place when they are no longer what ageboot put there", () => {
    const { host, home, paths, all, onlyKept } = setUp();
    host.writeManifest(all);
    expect(host.activate().status).toBe(0);
    // Alice replaces the copy with a file of her own, hard-linked elsewhere; root replaces the link.
    rmSync(paths.copy);
    writeFileSync(paths.copy, "alice's own\n");
    chownSync(paths.copy, alice.uid, alice.gid);
    spawnSync("ln", [paths.copy, join(home, "second-name")]);
    rmSync(paths.link);
    symlinkSync("/somewhere/else", paths.link);
    host.writeManifest(onlyKept);
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(paths.copy, "utf8")).toBe("alice's own\n");
    expect(lstatSync(paths.link).isSymbolicLink()).toBe(true);
    expect(result.stderr).toContain(`${paths.link} is gone or no longer what ageboot installed there, left in place`);
  });

  it("a copy that its owner replaced by a directory stays, and so does everything in it", () => {
    const { host, paths, all, onlyKept } = setUp();
    host.writeManifest(all);
    expect(host.activate().status).toBe(0);
    rmSync(paths.copy);
    mkdirSync(paths.copy);
    writeFileSync(join(paths.copy, "inside"), "x");
    host.writeManifest(onlyKept);
    expect(host.activate().status).toBe(0);
    expect(readFileSync(join(paths.copy, "inside"), "utf8")).toBe("x");
  });

  it("a run killed after the swap, before the removal, leaves it to the next run", () => {
    const { host, paths, all, onlyKept } = setUp();
    host.writeManifest(all);
    expect(host.activate().status).toBe(0);
    host.writeManifest(onlyKept);
    const countFile = join(host.root, "steps.txt");
    // Count the steps of the removing run on a copy of this state, then replay it killed.
    const counting = runAgeboot(["activate", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_COUNT_STEPS: countFile } });
    expect(counting.status, counting.stderr).toBe(0);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    const firstRemoval = steps.indexOf("remove stale custom path");
    expect(firstRemoval, steps.join(", ")).toBeGreaterThan(steps.indexOf("swap symlink"));
    // Back to the state before that run: generation 1 current, both paths there.
    spawnSync("umount", ["-R", host.mountPoint]);
    rmSync(join(host.root, "run"), { recursive: true, force: true });
    host.writeManifest(all);
    expect(host.activate().status).toBe(0);
    expect([installed(paths.copy), installed(paths.link)]).toEqual([true, true]);
    host.writeManifest(onlyKept);
    const killed = runAgeboot(["activate", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_KILL_AFTER_STEP: String(firstRemoval) } });
    expect(killed.signal).toBe("SIGKILL");
    expect(readFileSync(join(host.secretsDir, "kept"), "utf8")).toContain("kept"); // the new generation is current
    expect(installed(paths.copy) || installed(paths.link), "nothing was removed before the kill").toBe(true);
    const next = host.activate();
    expect(next.status, next.stderr).toBe(0);
    expect([installed(paths.copy), installed(paths.link)]).toEqual([false, false]);
    expect(existsSync(paths.kept)).toBe(true);
  });

  it("killed after every step of the removing run: the next run always finishes the job", () => {
    const { host, paths, all, onlyKept } = setUp();
    const reset = () => {
      spawnSync("umount", ["-R", host.mountPoint]);
      rmSync(join(host.root, "run"), { recursive: true, force: true });
      host.writeManifest(all);
      expect(host.activate().status).toBe(0);
      host.writeManifest(onlyKept);
    };
    reset();
    const countFile = join(host.root, "steps-all.txt");
    expect(runAgeboot(["activate", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_COUNT_STEPS: countFile } }).status).toBe(0);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    expect(steps.filter((step) => step === "remove stale custom path")).toHaveLength(2);
    for (let step = 1; step <= steps.length; step++) {
      reset();
      const killed = runAgeboot(["activate", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) } });
      expect(killed.signal, `step ${step} (${steps[step - 1]})`).toBe("SIGKILL");
      const next = host.activate();
      expect(next.status, `after a kill at step ${step} (${steps[step - 1]}): ${next.stderr}`).toBe(0);
      expect([installed(paths.copy), installed(paths.link)], `after a kill at step ${step} (${steps[step - 1]})`).toEqual([false, false]);
      expect(TestHost.stripCanary(readFileSync(paths.kept, "utf8"), paths.kept)).toBe("kept");
    }
  }, 300_000);
});
