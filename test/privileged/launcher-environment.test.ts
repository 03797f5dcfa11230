// Issue 22, item 4: root runs the launcher with a caller's environment (sudo -E,
// env_keep), and nothing in it may choose what runs as root. Each variable that
// steered it before, or that node, OpenSSL or the shell would act on, is set to
// something a local user (alice) owns, and root runs the launcher: the shipped
// one (dist/ageboot) and one configured by scripts/install-package.sh with bash
// as the Nix package installs it. A control shows each attack works on node
// started without the launcher, so that the checks can fail.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { launcherPath, repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const newHost = hostPerTest();
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A directory alice owns, as her home would be, with her planted files. */
function aliceDirectory(): string {
  const { dir, cleanup } = tempDir("ageboot-launcher-env-");
  cleanups.push(cleanup);
  chownSync(dir, alice.uid, alice.gid);
  return dir;
}

/** alice's file `name` in `dir` with `text`, hers. */
function plant(dir: string, name: string, text: string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  chownSync(path, alice.uid, alice.gid);
  return path;
}

/** The launcher as the Nix package installs it (scripts/install-package.sh; bash -p on its #! line, node by path), in a fresh directory. */
function installedLauncher(): string {
  const { dir, cleanup } = tempDir("ageboot-installed-");
  cleanups.push(cleanup);
  const installed = spawnSync("bash", [join(repoRoot, "scripts/install-package.sh"), dir, process.execPath, "/bin/bash", "/usr/bin:/bin"], { cwd: repoRoot, encoding: "utf8" });
  expect(installed.status, installed.stderr).toBe(0);
  expect(readFileSync(join(dir, "lib/ageboot/ageboot"), "utf8")).toMatch(/^#!\/bin\/bash -p\n/);
  return join(dir, "bin/ageboot");
}

const launchers = [
  ["the shipped launcher (dist/ageboot, #!/bin/sh)", () => launcherPath],
  ["the installed launcher (scripts/install-package.sh, #!bash -p)", installedLauncher],
] as const;

describe.each(launchers)("%s, run by root with a user's environment", (_name, launcher) => {
  it("NODE_OPTIONS=--require <alice's file>: the file never runs (control: it does under node alone)", () => {
    const dir = aliceDirectory();
    const marker = join(dir, "ran-as-root");
    const payload = plant(dir, "payload.cjs", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, String(process.getuid()));`);
    const control = spawnSync(process.execPath, ["-e", "0"], { env: { ...process.env, NODE_OPTIONS: `--require ${payload}` } });
    expect(control.status).toBe(0);
    expect(readFileSync(marker, "utf8")).toBe("0");
    writeFileSync(marker, "");

    const host = newHost();
    host.writeManifest({ token: { file: host.encrypt("steered?") } });
    const result = runAgeboot(["activate", "--manifest", host.manifestPath], { via: launcher(), env: { NODE_OPTIONS: `--require ${payload}` } });
    expect(result.status, result.stderr).toBe(0);
    expect(host.read("token")).toBe("steered?");
    expect(readFileSync(marker, "utf8")).toBe("");
  });

  it("AGEBOOT_NODE, or the launcher's own names (installed_node, installed_dir, dir) =<alice's program or directory>: not run; node is the one named at install or on PATH", () => {
    const dir = aliceDirectory();
    const marker = join(dir, "ran-as-root");
    const fakeNode = plant(dir, "node", `#!/bin/sh\necho pwned > '${marker}'\nexit 0\n`, 0o755);
    plant(dir, "start.cjs", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "pwned");`);
    const steering = { AGEBOOT_NODE: fakeNode, installed_node: fakeNode, installed_dir: dir, installed_path: dir, dir };
    const result = runAgeboot(["--version"], { via: launcher(), env: steering });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ageboot \d/);
    expect(existsSync(marker)).toBe(false);
  });

  it("NODE_V8_COVERAGE=<alice's directory>: root writes nothing there (control: node alone does)", () => {
    const dir = aliceDirectory();
    const coverage = join(dir, "coverage");
    mkdirSync(coverage);
    chownSync(coverage, alice.uid, alice.gid);
    expect(spawnSync(process.execPath, ["-e", "0"], { env: { ...process.env, NODE_V8_COVERAGE: coverage } }).status).toBe(0);
    expect(readdirSync(coverage).length).toBeGreaterThan(0);
    const fresh = join(dir, "coverage-2");
    mkdirSync(fresh);
    chownSync(fresh, alice.uid, alice.gid);
    const result = runAgeboot(["--version"], { via: launcher(), env: { NODE_V8_COVERAGE: fresh } });
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(fresh)).toEqual([]);
  });

  it("AGEBOOT_TEST_COUNT_STEPS through alice's symlink to a root file, and AGEBOOT_TEST_KILL_AFTER_STEP: the shipped bundle has no such hooks", () => {
    const dir = aliceDirectory();
    const rootFile = join(aliceDirectory(), "root-owned");
    writeFileSync(rootFile, "root's own content\n", { mode: 0o600 });
    chownSync(rootFile, 0, 0);
    const link = join(dir, "steps");
    symlinkSync(rootFile, link);
    const host = newHost();
    host.writeManifest({ token: { file: host.encrypt("not killed") } });
    const result = runAgeboot(["activate", "--manifest", host.manifestPath], {
      via: launcher(),
      env: { AGEBOOT_TEST_COUNT_STEPS: link, AGEBOOT_TEST_KILL_AFTER_STEP: "1" },
    });
    // The helper runs the test build for AGEBOOT_TEST_* with via "node"/"launcher" only: this is the shipped one.
    expect(result.signal).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    expect(host.read("token")).toBe("not killed");
    expect(readFileSync(rootFile, "utf8")).toBe("root's own content\n");
  });

  it("node receives only the variables ageboot reads, whatever else the caller exports", () => {
    // A copy of the launcher's package whose start.cjs prints the environment node was given.
    const { dir, cleanup } = tempDir("ageboot-launcher-copy-");
    cleanups.push(cleanup);
    const original = launcher();
    const launcherFile = readFileSync(original, "utf8");
    const copy = join(dir, "ageboot");
    const installedDir = /^installed_dir='(.*)'$/m.exec(launcherFile)?.[1];
    // The installed one names its directory: point it at the copy's.
    writeFileSync(copy, installedDir === undefined ? launcherFile : launcherFile.replace(`installed_dir='${installedDir}'`, `installed_dir='${dir}'`), { mode: 0o755 });
    writeFileSync(join(dir, "start.cjs"), "process.stdout.write(JSON.stringify(Object.keys(process.env).sort()));");
    const hostile = {
      NODE_OPTIONS: "--require /nonexistent",
      NODE_PATH: "/home/alice/modules",
      NODE_COMPILE_CACHE: "/home/alice/cache",
      NODE_REDIRECT_WARNINGS: "/home/alice/warnings",
      NODE_EXTRA_CA_CERTS: "/home/alice/fifo",
      NODE_ICU_DATA: "/home/alice/icu",
      NODE_DEBUG_NATIVE: "all",
      NODE_CHANNEL_FD: "0",
      NODE_PRESERVE_SYMLINKS: "1",
      NODE_REPL_EXTERNAL_MODULE: "/home/alice/repl.js",
      OPENSSL_CONF: "/home/alice/openssl.cnf",
      OPENSSL_MODULES: "/home/alice/ossl",
      SSL_CERT_FILE: "/home/alice/ca",
      UV_THREADPOOL_SIZE: "1",
      LOCPATH: "/home/alice/locale",
      GCONV_PATH: "/home/alice/gconv",
      TMPDIR: "/home/alice/tmp",
      SYSTEMD_PAGER: "/home/alice/pager",
      BASH_ENV: "/home/alice/bashrc",
      AGEBOOT_LOG_LEVEL: "debug",
      XDG_RUNTIME_DIR: "/run/user/4101",
    };
    const result = runAgeboot([], { via: copy, env: hostile });
    expect(result.status, result.stderr).toBe(0);
    const names = JSON.parse(result.stdout) as string[];
    const allowed = new Set(["PATH", "HOME", "NOTIFY_SOCKET", "JOURNAL_STREAM", "NIXOS_ACTION", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "GLIBC_TUNABLES", "SHLVL"]);
    // bash re-exports SHLVL when it execs; it steers nothing.
    expect(names.filter((name) => !allowed.has(name) && !name.startsWith("AGEBOOT_"))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["AGEBOOT_LOG_LEVEL", "AGEBOOT_MAIN_PID", "XDG_RUNTIME_DIR", "PATH"]));
  });
});

it("the installed launcher reads no BASH_ENV (bash -p): alice's file is not sourced by root", () => {
  const dir = aliceDirectory();
  const marker = join(dir, "ran-as-root");
  const bashEnv = plant(dir, "bashrc", `echo pwned > '${marker}'\n`);
  const control = spawnSync("bash", ["-c", ":"], { env: { ...process.env, BASH_ENV: bashEnv } });
  expect(control.status).toBe(0);
  expect(existsSync(marker)).toBe(true);
  spawnSync("rm", ["-f", marker]);
  const result = runAgeboot(["--version"], { via: installedLauncher(), env: { BASH_ENV: bashEnv } });
  expect(result.status, result.stderr).toBe(0);
  expect(existsSync(marker)).toBe(false);
});

it("the shipped bundle has no fault-injection code at all, the test build has it", () => {
  for (const file of ["cli.cjs", "stage-worker.cjs", "start.cjs"]) expect(readFileSync(join(repoRoot, "dist", file), "latin1")).not.toContain("AGEBOOT_TEST_");
  expect(readFileSync(join(repoRoot, "dist-test", "cli.cjs"), "latin1")).toContain("AGEBOOT_TEST_KILL_AFTER_STEP");
});

it("the shipped launcher where /bin/sh is bash: imported functions named exec or unset, with SHELLOPTS=allexport, never run as root", () => {
  // bash started as /bin/sh (Fedora, Arch, NixOS...) imports BASH_FUNC_* and
  // is in POSIX mode, where special built-ins win over functions; allexport
  // exports its POSIXLY_CORRECT, the allow-list loop unsets it, and bash
  // leaves POSIX mode: a function named `exec` would then run. Here /bin/sh
  // is dash, so bash is bound over it in a mount namespace of the run's own.
  const dir = aliceDirectory();
  const marker = join(dir, "ran-as-root");
  const payload = plant(dir, "payload.cjs", `require("node:fs").writeFileSync(${JSON.stringify(`${marker}-js`)}, "pwned");`);
  const hostile = {
    SHELLOPTS: "allexport",
    "BASH_FUNC_exec%%": `() { echo pwned > '${marker}'; builtin exec env NODE_OPTIONS=--require=${payload} "$@"; }`,
    "BASH_FUNC_readlink%%": `() { echo pwned > '${marker}'; }`,
  };
  // No shell between the test and the launcher: dash drops variables whose names are not identifiers.
  const bindBashAsSh = plant(
    dir,
    "bash-as-sh",
    `#!/usr/bin/python3\nimport os, subprocess, sys\nsubprocess.run(["mount", "--bind", "/bin/bash", "/bin/sh"], check=True)\nos.execv(${JSON.stringify(launcherPath)}, [${JSON.stringify(launcherPath)}] + sys.argv[1:])\n`,
    0o755,
  );
  const result = runAgeboot(["--version"], { via: bindBashAsSh, env: hostile, privateMountNamespace: true });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^ageboot \d/);
  expect(existsSync(marker)).toBe(false);
  expect(existsSync(`${marker}-js`)).toBe(false);
});

it("scripts/install-package.sh never writes through what another user planted in the output directory, and ignores a loose umask", () => {
  const dir = aliceDirectory();
  const victim = join(aliceDirectory(), "root-file");
  writeFileSync(victim, "root's own\n", { mode: 0o600 });
  chownSync(victim, 0, 0);
  const planted = join(dir, "planted");
  mkdirSync(planted);
  symlinkSync(dir, join(planted, "lib"));
  const refused = spawnSync("bash", ["-c", 'umask 000; exec bash "$@"', "sh", join(repoRoot, "scripts/install-package.sh"), planted, process.execPath, "/bin/bash"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  expect(refused.status).not.toBe(0);
  expect(readdirSync(dir).sort()).toEqual(["planted"]);
  expect(readFileSync(victim, "utf8")).toBe("root's own\n");

  const fresh = join(dir, "fresh");
  const installed = spawnSync("bash", ["-c", 'umask 000; exec bash "$@"', "sh", join(repoRoot, "scripts/install-package.sh"), fresh, process.execPath, "/bin/bash"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  expect(installed.status, installed.stderr).toBe(0);
  for (const path of [fresh, join(fresh, "bin"), join(fresh, "lib"), join(fresh, "lib/ageboot"), join(fresh, "lib/ageboot/start.cjs")]) {
    expect(statSync(path).mode & 0o022, path).toBe(0);
  }
});
