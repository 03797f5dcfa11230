// Issue 12, item 7: every failure named, always. Making a generation current
// creates two links (`<mount>/current`, then secretsDir); on a full tmpfs either
// can fail with ENOSPC. Such a run must name every secret it could not install,
// exit 1 like any failed secret (not "internal error"), and leave the state a
// next run starts from cleanly: no half-made generation, no link to one, no
// temporary names; the next run, with space again, installs everything.
// The tmpfs is made full by its inode count (nr_inodes), which every file,
// directory and link takes one of, so the generation fits and a link does not.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";

beforeAll(requirePrivateNamespace);

// The fixture unmounts every mount below the host (the mount point and the small tmpfs for secretsDir).
const newHost = hostPerTest();

function tmpfs(path: string, inodes: number): void {
  mkdirSync(path, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `nr_inodes=${inodes},size=1m,nosuid,nodev`, "tmpfs", path]);
}

function entries(path: string): string[] {
  return readdirSync(path).sort();
}

const secrets = (host: TestHost) => ({ "db-password": { file: host.encrypt("db-1") }, "nested/token": { file: host.encrypt("token-1") } });

describe("first boot, a link cannot be made (issue 12, item 7)", () => {
  it("no room for <mount>/current: every secret named, nothing left, the next run installs", () => {
    const host = newHost();
    // The root, the generation, "nested" and its two files: 5 inodes; the link would be the 6th.
    tmpfs(host.mountPoint, 5);
    host.writeManifest(secrets(host));
    const result = host.activate();
    expect(result.stderr).not.toContain("internal error");
    expect(result.stderr).toMatch(/secret db-password: not installed: .*current.*ENOSPC/);
    expect(result.stderr).toMatch(/secret nested\/token: not installed: .*current.*ENOSPC/);
    expect(result.stderr).toContain("0 added, 0 changed, 0 removed, 0 unchanged, 2 failed");
    expect(result.status).toBe(1);
    expect(entries(host.mountPoint)).toEqual([]);
    expect(existsSync(host.secretsDir)).toBe(false);

    execFileSync("mount", ["-o", "remount,nr_inodes=100", host.mountPoint]);
    const next = host.activate();
    expect(next.status, next.stderr).toBe(0);
    expect(host.read("db-password")).toBe("db-1");
    expect(entries(host.mountPoint)).toEqual(["1", "current"]);
  });

  it("no room for secretsDir: every secret named, <mount>/current taken back, nothing left", () => {
    const host = newHost();
    // secretsDir's directory holds the mount point and the lock file: 3 inodes with its root; the link would be the 4th.
    tmpfs(dirname(host.secretsDir), 3);
    host.writeManifest(secrets(host));
    const result = host.activate();
    expect(result.stderr).not.toContain("internal error");
    expect(result.stderr).toMatch(new RegExp(`secret db-password: not installed: .*${host.secretsDir}.*ENOSPC`));
    expect(result.stderr).toMatch(new RegExp(`secret nested/token: not installed: .*${host.secretsDir}.*ENOSPC`));
    expect(result.status).toBe(1);
    expect(entries(host.mountPoint)).toEqual([]);
    expect(entries(dirname(host.secretsDir))).toEqual([".agenix.d.lock", "agenix.d"]);

    execFileSync("mount", ["-o", "remount,nr_inodes=100", dirname(host.secretsDir)]);
    const next = host.activate();
    expect(next.status, next.stderr).toBe(0);
    expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/1`);
    expect(host.read("nested/token")).toBe("token-1");
  });

  it("no room for secretsDir while a generation is current: it stays current, the new one is gone", () => {
    const host = newHost();
    tmpfs(dirname(host.secretsDir), 4);
    host.writeManifest(secrets(host));
    expect(host.activate().status).toBe(0);
    // The link now takes the 4th inode; a second link beside it (the temporary name) has none.
    host.writeManifest({ ...secrets(host), "db-password": { file: host.encrypt("db-2") } });
    const result = host.activate();
    expect(result.stderr).not.toContain("internal error");
    expect(result.stderr).toMatch(/secret db-password: not installed: .*ENOSPC/);
    expect(result.status).toBe(1);
    expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/1`);
    expect(readlinkSync(`${host.mountPoint}/current`)).toBe("1");
    expect(entries(host.mountPoint)).toEqual(["1", "current"]);
    expect(host.read("db-password")).toBe("db-1");
  });

  it("killed at every step after staging of such a run: the next run, with room, installs everything", () => {
    const prepare = () => {
      const host = newHost();
      tmpfs(dirname(host.secretsDir), 3);
      host.writeManifest(secrets(host));
      return host;
    };
    const counting = prepare();
    const countFile = join(counting.root, "steps.txt");
    expect(activateWith(counting, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(1);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    const first = steps.lastIndexOf("chmod secret file");
    expect(steps.slice(first)).toContain("remove container link");
    for (let step = first + 1; step <= steps.length; step++) {
      const host = prepare();
      const killed = activateWith(host, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) });
      expect(killed.signal, `step ${step} (${steps[step - 1]})`).toBe("SIGKILL");
      execFileSync("mount", ["-o", "remount,nr_inodes=100", dirname(host.secretsDir)]);
      const next = host.activate();
      expect(next.status, `after a kill at step ${step} (${steps[step - 1]}): ${next.stderr}`).toBe(0);
      expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/${readlinkSync(`${host.mountPoint}/current`)}`);
      expect(host.read("db-password")).toBe("db-1");
      expect(host.read("nested/token")).toBe("token-1");
    }
    console.log(`a first run that cannot make secretsDir: ${steps.length - first} kill points after staging, all survived`);
  });
});

/** The CLI with fault-injection variables (src/fault-injection.ts). */
function activateWith(host: TestHost, env: Record<string, string>) {
  return runAgeboot(["activate", "--manifest", host.manifestPath], { env });
}
