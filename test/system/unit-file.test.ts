// systemd's own checks on the shipped unit: `systemd-analyze verify` must pass.
// verify also checks that ExecStart= exists, so the unit is checked with its
// path pointed at the built CLI; nothing else in it is changed.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { launcherPath, repoRoot } from "../helpers/paths.js";

const dir = mkdtempSync(join(tmpdir(), "ageboot-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("systemd-analyze verify passes on systemd/ageboot.service", () => {
  const unit = readFileSync(join(repoRoot, "systemd/ageboot.service"), "utf8");
  expect(unit).toContain("ExecStart=/usr/bin/ageboot ");
  const path = join(dir, "ageboot.service");
  writeFileSync(path, unit.replace("ExecStart=/usr/bin/ageboot ", `ExecStart=${launcherPath} `));
  const result = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});

it("gives the unit no private mount namespace (the ramfs must be visible host-wide)", () => {
  const unit = readFileSync(join(repoRoot, "systemd/ageboot.service"), "utf8");
  const settings = unit
    .split("\n")
    .filter((line) => /^[A-Z]\w*=/.test(line))
    .map((line) => line.slice(0, line.indexOf("=")));
  const namespacing = [
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "PrivateMounts",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectProc",
    "ProcSubset",
    "ReadOnlyPaths",
    "ReadWritePaths",
    "InaccessiblePaths",
    "BindPaths",
    "BindReadOnlyPaths",
    "TemporaryFileSystem",
    "RootDirectory",
    "RootImage",
    "MountAPIVFS",
    "ProtectHostname",
    "PrivateNetwork",
    "NetworkNamespacePath",
    "DynamicUser",
    "LogsDirectory",
    "StateDirectory",
    "RuntimeDirectory",
  ];
  expect(settings.filter((name) => namespacing.includes(name))).toEqual([]);
  // And systemd's exposure score, for the record (docs/systemd.md).
  const security = execFileSync("systemd-analyze", ["security", "--offline=yes", join(dir, "ageboot.service")], { encoding: "utf8" });
  expect(security).toMatch(/Overall exposure level for ageboot\.service: \d/);
});

it("systemd-analyze --user verify passes on systemd/ageboot-user.service", () => {
  const unit = readFileSync(join(repoRoot, "systemd/ageboot-user.service"), "utf8");
  expect(unit).toContain("ExecStart=/usr/bin/ageboot activate --user");
  expect(unit).toMatch(/^WantedBy=default\.target$/m);
  const path = join(dir, "ageboot-user.service");
  writeFileSync(path, unit.replace("ExecStart=/usr/bin/ageboot ", `ExecStart=${launcherPath} `));
  // --user: checked as the user manager loads it (its specifiers, %E among them).
  const result = spawnSync("systemd-analyze", ["--user", "verify", path], { encoding: "utf8", env: { ...process.env, XDG_RUNTIME_DIR: dir } });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});
