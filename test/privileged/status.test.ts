// `ageboot status` (docs/lifecycle.md) after real activations: as root and as
// a user, with and without a manifest, custom paths as symlinks and copies,
// and what a user can do to them reported, never followed. Every run goes
// through runAgeboot, which fails the test if the plaintext canary reaches
// the output; the values themselves are checked too.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { StatusReport } from "../../src/status/report.js";
import { MAX_COMPARED_BYTES } from "../../src/status/sections/custom-paths.js";
import { type AgebootRunOptions, runAgeboot } from "../helpers/ageboot-process.js";
import { placeholderFor } from "../../src/templates/placeholder.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const { shared } = TEST_GROUPS;
const newHost = hostPerTest();
const VALUES = { db: "db-password-value", cert: "cert-value", token: "alice-token-value" };

/** A host with a secret for alice, a group secret, a custom path symlink and alice's copy in her home; activated twice. */
function activatedHost(): { host: TestHost; symlinkPath: string; copyPath: string } {
  const host = newHost();
  chmodSync(host.root, 0o755); // other users may pass through, as through / to /run
  const home = join(host.root, "home/alice");
  mkdirSync(home, { recursive: true });
  chownSync(home, alice.uid, alice.gid);
  const symlinkPath = join(host.root, "etc/app/cert.pem");
  const copyPath = join(home, "token");
  host.writeManifest({
    "db-password": { file: host.encrypt(VALUES.db), owner: alice.name, mode: "0400" },
    "nested/cert": { file: host.encrypt(VALUES.cert), path: symlinkPath, group: shared.name, mode: "0440" },
    "alice-token": { file: host.encrypt(VALUES.token), owner: alice.name, path: copyPath, symlink: false },
  });
  for (let run = 0; run < 2; run++) {
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
  }
  return { host, symlinkPath, copyPath };
}

function status(args: readonly string[], options: AgebootRunOptions = {}): { exit: number | null; stdout: string; stderr: string } {
  const result = runAgeboot(["status", ...args], { timeoutMs: 30_000, ...options });
  for (const value of Object.values(VALUES)) expect(result.stdout + result.stderr).not.toContain(value);
  return { exit: result.status, stdout: result.stdout, stderr: result.stderr };
}

function statusJson(args: readonly string[], options: AgebootRunOptions = {}): { exit: number | null; report: StatusReport } {
  const { exit, stdout, stderr } = status([...args, "--json"], options);
  expect(stderr).toBe("");
  return { exit, report: JSON.parse(stdout) as StatusReport };
}

const plaintextSize = (value: string) => TestHost.withCanary(value).length;

describe("ageboot status", () => {
  it("a template is a declared file of the generation under rendered/, with no recipients to check (exit 0)", () => {
    const host = newHost();
    host.writeManifest(
      { "db-password": { file: host.encrypt(VALUES.db), owner: alice.name } },
      { templates: { "app.conf": { content: `password=${placeholderFor("db-password")}\n`, owner: alice.name, mode: "0440" } } },
    );
    expect(host.activate().status).toBe(0);
    const { exit, report } = statusJson(["--manifest", host.manifestPath]);
    expect(exit).toBe(0);
    const row = report.secrets.entries.find((entry) => entry.name === "rendered/app.conf")!;
    expect(row.declared).toMatchObject({ state: "as-declared", mode: "0440", recipients: { state: "not-applicable" } });
    expect(row.installed).toMatchObject({ state: "present", mode: "0440" });
    expect(report.secrets.entries.map((entry) => entry.name).sort()).toEqual(["db-password", "rendered/app.conf"]);
  });

  it("as root, with the manifest: every secret, generation and custom path as declared (exit 0)", () => {
    const { host, symlinkPath, copyPath } = activatedHost();
    const { exit, report } = statusJson(["--manifest", host.manifestPath]);
    expect(exit).toBe(0);
    expect(report).toMatchObject({
      version: 1,
      state: "as-declared",
      exitStatus: 0,
      secretsDir: host.secretsDir,
      manifest: host.manifestPath,
      reader: { uid: 0, root: true },
      findings: [],
    });
    expect(report.generations.current?.generation).toBe(2);
    expect(report.generations.containerLink).toBe(2);
    expect(report.generations.kept.entries.map((entry) => [entry.generation, entry.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    expect(Date.parse(report.generations.current!.madeAt!)).toBeGreaterThan(Date.now() - 600_000);

    const rows = Object.fromEntries(report.secrets.entries.map((row) => [row.name, row]));
    expect(report.secrets.complete).toBe(true);
    expect(Object.keys(rows)).toEqual(["alice-token", "db-password", "nested/cert"]);
    expect(rows["db-password"]!.installed).toEqual({
      state: "present",
      owner: { id: alice.uid, name: alice.name },
      group: { id: alice.gid, name: alice.name },
      mode: "0400",
      size: plaintextSize(VALUES.db),
    });
    expect(rows["nested/cert"]!.installed).toMatchObject({ owner: { id: 0, name: "root" }, group: { id: shared.gid, name: shared.name }, mode: "0440" });
    for (const row of Object.values(rows)) {
      expect(row.declared?.state).toBe("as-declared");
      expect(row.declared?.recipients).toMatchObject({ state: "match", key: expect.stringMatching(/^ssh-ed25519 \S+$/) });
    }
    expect(report.customPaths).toEqual({
      complete: true,
      entries: [
        { path: symlinkPath, secret: "nested/cert", kind: "symlink", state: "ok", detail: `-> ${host.secretsDir}/nested/cert`, declared: true },
        { path: copyPath, secret: "alice-token", kind: "copy", state: "ok", detail: "content identical", declared: true },
      ],
    });

    const text = status(["--manifest", host.manifestPath]);
    expect(text.exit).toBe(0);
    expect(text.stdout).toMatch(/^ageboot status: as declared\n/);
    expect(text.stdout).toMatch(/^db-password +agetest-alice \(4101\) +agetest-alice \(4101\) +0400 +\d+ B +ok +ssh-ed25519 /m);
    expect(text.stdout).toContain("ok, content identical");
  });

  it("as another user: what that user may see, the rest said to be unchecked (exit 6), never a crash", () => {
    const { host, copyPath } = activatedHost();
    const { exit, report } = statusJson(["--manifest", host.manifestPath], { asUser: alice });
    expect(exit).toBe(6);
    expect(report).toMatchObject({ state: "incomplete", reader: { uid: alice.uid, root: false } });
    // It may pass through the 0751 mount point and generation, not list them.
    expect(report.generations.current?.generation).toBe(2);
    expect(report.generations.kept.complete).toBe(false);
    expect(report.secrets.complete).toBe(false);
    const rows = Object.fromEntries(report.secrets.entries.map((row) => [row.name, row]));
    expect(rows["db-password"]!.installed).toMatchObject({ state: "present", size: plaintextSize(VALUES.db) });
    expect(rows["db-password"]!.declared).toMatchObject({ state: "as-declared", recipients: { state: "unknown" } });
    // Her own copy, and her own secret, she may read: compared.
    expect(report.customPaths.entries.find((entry) => entry.path === copyPath)).toMatchObject({ state: "ok" });
    expect(report.findings.every((finding) => finding.severity === "unchecked")).toBe(true);
    expect(report.findings.map((finding) => finding.subject)).toContain("identities");

    const text = status(["--manifest", host.manifestPath], { asUser: alice });
    expect(text.exit).toBe(6);
    expect(text.stdout).toContain(`could not be checked as uid ${alice.uid}`);
    expect(text.stdout).toContain("run as root to check recipients");
  });

  it("tampered custom paths, a secret declared since, a copy swapped for a FIFO: each reported, nothing followed (exit 1)", () => {
    const { host, symlinkPath, copyPath } = activatedHost();
    unlinkSync(symlinkPath);
    symlinkSync("/etc/passwd", symlinkPath);
    // Same size, other bytes: only the content comparison can tell.
    const forged = Buffer.alloc(plaintextSize(VALUES.token), "x");
    writeFileSync(copyPath, forged);
    host.writeManifest({
      "db-password": { file: host.encrypt(VALUES.db), owner: alice.name, mode: "0400" },
      "nested/cert": { file: host.encrypt(VALUES.cert), path: symlinkPath, group: shared.name, mode: "0440" },
      "alice-token": { file: host.encrypt(VALUES.token), owner: alice.name, path: copyPath, symlink: false },
      "declared-later": { file: host.encrypt("later", `${sshKeygen(host.root, "another_host_key", "ed25519")}.pub`) },
    });
    const { exit, report } = statusJson(["--manifest", host.manifestPath]);
    expect(exit).toBe(1);
    expect(report.state).toBe("problems");
    const paths = Object.fromEntries(report.customPaths.entries.map((entry) => [entry.path, entry]));
    expect(paths[symlinkPath]).toMatchObject({ state: "replaced", detail: expect.stringContaining("a symlink to /etc/passwd") });
    expect(paths[copyPath]).toMatchObject({ state: "differs", detail: "its content is not the secret's" });
    // Declared since the last activation, and encrypted to another host's key: both said.
    expect(report.secrets.entries.find((row) => row.name === "declared-later")).toMatchObject({
      installed: { state: "missing" },
      declared: { state: "missing", recipients: { state: "no-match", detail: expect.stringContaining("no identity matches: the file is encrypted to [ssh-ed25519 ") } },
    });
    expect(report.findings.map((finding) => finding.subject)).toEqual(expect.arrayContaining([`path ${symlinkPath}`, `path ${copyPath}`, "secret declared-later"]));

    // alice swaps her copy for a FIFO: reported as such, never opened (which would wait for a writer).
    rmSync(copyPath);
    execFileSync("mkfifo", [copyPath]);
    chownSync(copyPath, alice.uid, alice.gid);
    const fifo = statusJson(["--manifest", host.manifestPath]);
    expect(fifo.report.customPaths.entries.find((entry) => entry.path === copyPath)).toMatchObject({ state: "replaced", detail: "a FIFO, not a copy" });

    const text = status(["--manifest", host.manifestPath]);
    expect(text.exit).toBe(1);
    expect(text.stdout).toMatch(/^ageboot status: \d+ problems \(exit 1\)/);
    expect(text.stdout).toContain("REPLACED: a symlink to /etc/passwd");
    expect(text.stdout).toMatch(/^declared-later +- +- +- +- +MISSING +NO MATCH$/m);
  });

  it("a copy and its secret grown sparse by their owner are not read to the end: larger than the bound, not compared", () => {
    // Attack F4: alice owns both files; truncate -s 1T on each made status read two terabytes.
    const { host, copyPath } = activatedHost();
    const grown = MAX_COMPARED_BYTES + 4096;
    // On a tmpfs the generation's file is immutable (src/activation/immutable.ts) and she cannot grow it;
    // on a ramfs, or a generation an older ageboot made, she can: the flag is cleared to stand for that.
    execFileSync("chattr", ["-i", join(host.secretsDir, "alice-token")]);
    for (const file of [join(host.secretsDir, "alice-token"), copyPath]) {
      chmodSync(file, 0o600);
      truncateSync(file, grown);
      chmodSync(file, 0o400);
    }
    const { report } = statusJson(["--manifest", host.manifestPath]);
    expect(report.customPaths.entries.find((entry) => entry.path === copyPath)).toMatchObject({
      state: "unknown",
      detail: `content not compared: larger than 256 MiB (${grown} bytes)`,
    });
  });

  it("a symlink a user planted on the way to a custom path is not followed", () => {
    const host = newHost();
    chmodSync(host.root, 0o755);
    const home = join(host.root, "home/alice");
    mkdirSync(join(home, "app"), { recursive: true });
    chownSync(home, alice.uid, alice.gid);
    chownSync(join(home, "app"), alice.uid, alice.gid);
    const copyPath = join(home, "app/token");
    host.writeManifest({ "alice-token": { file: host.encrypt(VALUES.token), owner: alice.name, path: copyPath, symlink: false } });
    expect(host.activate().status).toBe(0);
    // alice moves her directory away and points its name at root's.
    execFileSync("mv", [join(home, "app"), join(home, "app.old")]);
    symlinkSync("/etc", join(home, "app"));
    const { exit, report } = statusJson(["--manifest", host.manifestPath]);
    expect(exit).toBe(1);
    expect(report.customPaths.entries[0]).toMatchObject({ state: "replaced", detail: expect.stringContaining("not followed") });
    rmSync(join(home, "app.old"), { recursive: true }); // the copy, moved where the fixture's search for plaintext would find it
  });

  it("without a manifest it reads the default /run/agenix and the record of custom paths, as root and as a user", () => {
    const host = newHost();
    chmodSync(host.root, 0o755);
    // The defaults, in a mount namespace of the run's own where the host's run/ is /run.
    // The memory-backed mount is made here, so that it outlives each run's namespace.
    const run = join(host.root, "run");
    mkdirSync(join(run, "agenix.d"), { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0751", "tmpfs", join(run, "agenix.d")]);
    const empty = join(host.root, "empty");
    mkdirSync(empty);
    const inDefaults: AgebootRunOptions = {
      privateMountNamespace: true,
      shellBefore: `mount --rbind ${run} /run && { [ ! -d /etc/ageboot ] || mount --bind ${empty} /etc/ageboot; }`,
    };
    const symlinkPath = join(host.root, "etc/app/cert.pem");
    host.writeManifest(
      { token: { file: host.encrypt(VALUES.token) }, cert: { file: host.encrypt(VALUES.cert), path: symlinkPath } },
      { secretsDir: "/run/agenix", secretsMountPoint: "/run/agenix.d" },
    );
    const activated = runAgeboot(["activate", "--manifest", host.manifestPath], inDefaults);
    expect(activated.status, activated.stderr).toBe(0);
    expect(existsSync(join(run, "agenix.d/1/token"))).toBe(true);

    const asRoot = statusJson([], inDefaults);
    expect(asRoot.exit).toBe(0);
    expect(asRoot.report).toMatchObject({ manifest: null, secretsDir: "/run/agenix", secretsMountPoint: "/run/agenix.d", state: "as-declared" });
    expect(asRoot.report.secrets.entries.map((row) => [row.name, row.declared])).toEqual([
      ["cert", null],
      ["token", null],
    ]);
    expect(asRoot.report.customPaths).toEqual({
      complete: true,
      entries: [{ path: symlinkPath, secret: "cert", kind: "symlink", state: "ok", detail: "-> /run/agenix/cert", declared: null }],
    });

    const asAlice = statusJson([], { ...inDefaults, asUser: alice });
    expect(asAlice.exit).toBe(6);
    expect(asAlice.report.customPaths.complete).toBe(false);
    expect(asAlice.report.secrets.complete).toBe(false);
    expect(asAlice.report.generations.current?.generation).toBe(1);
  });
});
