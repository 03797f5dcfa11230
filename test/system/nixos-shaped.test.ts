// Issue 21, item 1: the package boots an impermanence host the way NixOS does,
// with nothing outside the store. nix/module.nix is evaluated with nixpkgs' lib
// (test/fixtures/nixos/nixos-shaped.nix: host key under /persist, users'
// password files from secrets, users.mutableUsers = false), and what it
// generates runs in a root that has only /nix/store and /persist, as after an
// impermanence wipe: no /bin/sh, no /usr, no /etc.
//
// In the store-like /nix/store: the package as scripts/install-package.sh
// installs it (the very script nix/package.nix's installPhase runs), and Debian's
// node, bash, coreutils, util-linux and getent, each copied with the shared
// libraries ldd names and patchelf'd to load them from its own store path.
//
// 1. Activation scripts (stage 2): the module's snippets verbatim, in the order
//    NixOS's activation-script.nix gives them (lib.textClosureList over the
//    evaluated system.activationScripts, as its sortSnippets does), inside the
//    same headlines, ERR trap, umask and PATH. Read in nixpkgs at commit
//    04da25cd20da2a9aea032e57eb80648e55de8cc6 (activation-script.nix) and
//    nixos/modules/config/shells-environment.nix (binsh, after stdio).
// 2. systemd activation: the module's units, written as unit files, booted by
//    systemd under systemd-nspawn (a Debian root, /bin/sh removed).
// Each also runs the package as nix/package.nix installed it before this change
// (#!/bin/sh): it fails there, which shows the checks can fail.
//
// What differs from NixOS, and why:
// - NixOS's own snippets are stand-ins written here (specialfs, users, groups,
//   etc, hashes, binsh, usrbinenv, var): the real ones need nixpkgs. `users`
//   does what update-users-groups.pl does with mutableUsers = false for what
//   this test checks: /etc/passwd, /etc/group and /etc/shadow from the declared
//   users, the hash read from hashedPasswordFile (a warning if it is missing).
//   binsh and usrbinenv are nixpkgs' text with this store's bash and env.
// - Stage 1 and stage-2-init.sh mount /proc, /dev, /sys and /run; here the test
//   mounts them, and runs the activate script with `chroot` in the suite's
//   private mount namespace, not under systemd-nspawn: nspawn refuses a
//   directory without /usr ("doesn't look like it has an OS tree"), and a NixOS
//   root at this point has none (usrbinenv makes /usr/bin/env later).
// - Executables are Debian's, relinked to the store; glibc is copied into each
//   package's lib/ rather than being a store path of its own.
// - Under systemd: the root is Debian's (systemd needs its /usr), with /bin/sh
//   removed; users come from the image (useradd), not from NixOS's users
//   snippet or userborn; unit files are written from the evaluated options the
//   way NixOS's systemd-lib writes them (lists as repeated lines), with PATH from
//   the unit's `path`, not the whole NixOS default.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { nixosUnitFile } from "../helpers/nixos-unit-file.js";
import { nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";
import { BootRoot } from "../helpers/nspawn-boot.js";
import { repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { copyIntoStore, storePath } from "../helpers/store-closure.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

const nixpkgsLib = nixpkgsLibFor("The NixOS-shaped system tests");

interface UnitFacts {
  description: string;
  wantedBy: string[];
  requiredBy: string[];
  before: string[];
  after: string[];
  wants: string[];
  requires: string[];
  unitConfig: Record<string, unknown>;
  serviceConfig: Record<string, unknown>;
  path: string[];
}
interface Evaluated {
  failedAssertions: string[];
  activationOrder: string[];
  activationTexts: Record<string, string>;
  manifests: Array<{ path: string; text: string }>;
  users: Array<{ name: string; uid: number; group: string; groups: string[]; hashedPasswordFile: string | null }>;
  groups: Array<{ name: string; gid: number }>;
  services: Record<string, UnitFacts>;
}

// Hashes as a user would put in the secrets (mkpasswd's shape); the test only checks they reach /etc/shadow.
const rootHash = "$6$rootsalt$RootHashRootHashRootHash";
const aliceHash = "$6$alicesalt$AliceHashAliceHashAliceHash";
const alice = { uid: 1000, users: 100, app: 950 };
const appToken = TestHost.withCanary("app-token-value");
const shared = TestHost.withCanary("shared-value");

/** The module evaluated for the package at `packagePath`. */
function evaluate(packagePath: string, systemdActivation: boolean): Evaluated {
  const json = execFileSync(
    "nix-instantiate",
    [
      "--eval",
      "--strict",
      "--json",
      "--readonly-mode",
      join(repoRoot, "test/fixtures/nixos/nixos-shaped.nix"),
      ...["--argstr", "nixpkgsLib", nixpkgsLib],
      ...["--argstr", "package", packagePath],
      ...["--argstr", "secretsStore", storePath("secrets")],
      ...["--argstr", "systemdActivation", String(systemdActivation)],
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const evaluated = JSON.parse(json) as Evaluated;
  expect(evaluated.failedAssertions).toEqual([]);
  return evaluated;
}

/** The store-like closure, made once: the tools, the package (two shapes), the secrets; and the host key under persist/. */
class Store {
  readonly work = execFileSync("mktemp", ["-d", "/var/tmp/ageboot-nixos-shaped-XXXXXX"], { encoding: "utf8" }).trim();
  readonly root = join(this.work, "root");
  readonly persist = join(this.root, "persist");
  readonly bash: string;
  readonly coreutils: string;
  readonly utilLinux: string;
  readonly getent: string;
  readonly node: string;
  readonly ageboot: string;
  readonly agebootBefore: string;

  constructor() {
    mkdirSync(this.root, { mode: 0o755 });
    this.bash = copyIntoStore(this.root, "bash-5.2", { bash: "/bin/bash" }, { sh: "bash" });
    const coreutils = ["mkdir", "chmod", "ln", "mv", "rm", "cat", "env", "stat", "readlink", "id"];
    this.coreutils = copyIntoStore(this.root, "coreutils-9.1", Object.fromEntries(coreutils.map((tool) => [tool, `/usr/bin/${tool}`])));
    this.utilLinux = copyIntoStore(this.root, "util-linux-2.38-bin", {
      flock: "/usr/bin/flock",
      mount: "/usr/bin/mount",
      umount: "/usr/bin/umount",
      mountpoint: "/usr/bin/mountpoint",
    });
    this.getent = copyIntoStore(this.root, "getent-glibc-2.36", { getent: "/usr/bin/getent" });
    this.node = copyIntoStore(this.root, `nodejs-${process.versions.node}`, { node: process.execPath });
    const pathEntries = [this.utilLinux, this.getent].map((store) => `${store}/bin`).join(":");

    // The package as nix/package.nix installs it now: scripts/install-package.sh.
    this.ageboot = storePath("ageboot-0.1.0");
    execFileSync("bash", [join(repoRoot, "scripts/install-package.sh"), "--destdir", this.root, this.ageboot, `${this.node}/bin/node`, `${this.bash}/bin/bash`, pathEntries], {
      cwd: repoRoot,
    });
    // The package as nix/package.nix installed it before: dist/ as built (#!/bin/sh kept:
    // patchShebangs finds no sh among its inputs under strictDeps), under a makeWrapper
    // wrapper (a store bash) that set AGEBOOT_NODE and PATH.
    this.agebootBefore = storePath("ageboot-0.1.0-before");
    mkdirSync(join(this.root, this.agebootBefore, "bin"), { recursive: true });
    cpSync(join(repoRoot, "dist"), join(this.root, this.agebootBefore, "lib/ageboot"), { recursive: true });
    writeFileSync(
      join(this.root, this.agebootBefore, "bin/ageboot"),
      `#! ${this.bash}/bin/bash -e\nexport AGEBOOT_NODE='${this.node}/bin/node'\nPATH=${pathEntries}\${PATH:+':'}$PATH\nexport PATH\nexec -a "$0" "${this.agebootBefore}/lib/ageboot/ageboot"  "$@"\n`,
      { mode: 0o555 },
    );

    mkdirSync(join(this.persist, "etc/ssh"), { recursive: true });
    const hostKey = sshKeygen(join(this.persist, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");
    const secrets = join(this.root, storePath("secrets"));
    mkdirSync(secrets, { recursive: true });
    const encrypt = (value: string | Buffer) => ageEncrypt(value, [["-R", `${hostKey}.pub`]]);
    writeFileSync(join(secrets, "root-password.age"), encrypt(`${rootHash}\n`));
    writeFileSync(join(secrets, "alice-password.age"), encrypt(`${aliceHash}\n`));
    writeFileSync(join(secrets, "app-token.age"), encrypt(appToken));
    writeFileSync(join(secrets, "shared.age"), encrypt(shared));
  }

  /** The evaluation's manifests, written where its (placeholder) store paths say, in `root`. */
  writeManifests(root: string, evaluated: Evaluated): void {
    for (const manifest of evaluated.manifests) {
      mkdirSync(join(root, manifest.path, ".."), { recursive: true });
      writeFileSync(join(root, manifest.path), manifest.text);
    }
  }
}

/**
 * Unmounts everything under `dir` and fails if anything stays: the root has the host's
 * /dev and /sys bound in, and removing files through such a mount would remove the host's.
 */
function unmountAllUnder(dir: string): void {
  const mountedUnder = () =>
    readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4] ?? "")
      .filter((point) => point === dir || point.startsWith(`${dir}/`));
  for (const point of mountedUnder().sort().reverse()) spawnSync("umount", ["-R", point]);
  const left = mountedUnder();
  if (left.length > 0) throw new Error(`still mounted, not removing anything under ${dir}: ${left.join(", ")}`);
}

let store: Store;
beforeAll(() => {
  requirePrivateNamespace();
  store = new Store();
});
afterAll(() => {
  if (store === undefined) return;
  unmountAllUnder(store.work);
  if (!process.env["AGEBOOT_KEEP_BOOT_ROOT"]) rmSync(store.work, { recursive: true, force: true });
  else process.stderr.write(`nixos-shaped: kept ${store.work}\n`);
});

/** `path` inside the root, through its symlinks as the root sees them (absolute links resolve inside the root). */
function inRoot(root: string, path: string): string {
  let resolved = "/";
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const next = join(resolved, parts[i]!);
    const info = lstatSync(join(root, next), { throwIfNoEntry: false });
    if (info?.isSymbolicLink() && i < parts.length - 1) {
      const target = readlinkSync(join(root, next));
      resolved = target.startsWith("/") ? target : join(resolved, target);
    } else resolved = next;
  }
  return join(root, resolved);
}

function ownerGroupMode(path: string): string {
  const info = lstatSync(path);
  return `${info.uid}:${info.gid}:${(info.mode & 0o7777).toString(8)}`;
}

describe("NixOS-shaped: an impermanence root with nothing outside /nix/store and /persist", () => {
  /** NixOS's own snippets, as stage 2 would run them here (see the file's head for what differs). */
  function nixosSnippet(name: string, evaluated: Evaluated): string {
    switch (name) {
      case "specialfs":
        return ": # stage 1 and stage-2-init.sh mounted /proc, /dev, /sys and /run (here: the test, before chroot)";
      case "users": {
        // update-users-groups.pl with mutableUsers = false: the declared users and groups, no others.
        const groupMembers = (group: string) => evaluated.users.filter((user) => user.groups.includes(group)).map((user) => user.name);
        const groupLines = evaluated.groups.map((group) => `${group.name}:x:${group.gid}:${groupMembers(group.name).join(",")}`);
        const gidOf = (group: string) => evaluated.groups.find((candidate) => candidate.name === group)!.gid;
        const passwdLines = evaluated.users.map((user) => `${user.name}:x:${user.uid}:${gidOf(user.group)}::/var/empty:${store.bash}/bin/bash`);
        const shadow = evaluated.users.map((user) =>
          user.hashedPasswordFile === null
            ? `printf '%s:!:1::::::\\n' '${user.name}'`
            : [
                `if [ -e '${user.hashedPasswordFile}' ]; then IFS= read -r hash < '${user.hashedPasswordFile}'`,
                `else echo "warning: password file ‘${user.hashedPasswordFile}’ does not exist" >&2; hash='!'; fi`,
                `printf '%s:%s:1::::::\\n' '${user.name}' "$hash"`,
              ].join("\n"),
        );
        return [
          "mkdir -m 0755 -p /etc",
          `printf '%s\\n' ${groupLines.map((line) => `'${line}'`).join(" ")} > /etc/group`,
          `printf '%s\\n' ${passwdLines.map((line) => `'${line}'`).join(" ")} > /etc/passwd`,
          "chmod 0644 /etc/passwd /etc/group",
          `( umask 0077; { ${shadow.join("\n")}\n} > /etc/shadow )`,
        ].join("\n");
      }
      case "binsh":
        return `mkdir -m 0755 -p /bin\nln -sfn "${store.bash}/bin/sh" /bin/.sh.tmp\nmv /bin/.sh.tmp /bin/sh # atomically replace /bin/sh`;
      case "usrbinenv":
        return `mkdir -m 0755 -p /usr/bin\nln -sfn ${store.coreutils}/bin/env /usr/bin/.env.tmp\nmv /usr/bin/.env.tmp /usr/bin/env # atomically replace /usr/bin/env`;
      case "var":
        return "mkdir -m 1777 -p /var/tmp\nmkdir -p /var/empty";
      default:
        return ": # groups, etc, hashes: nothing this test reads";
    }
  }
  const nixosOwned = new Set(["specialfs", "users", "groups", "etc", "hashes", "binsh", "usrbinenv", "var", "stdio"]);

  /** The activate script as activation-script.nix writes it: the module's snippets verbatim, NixOS's by the stand-ins. */
  function activateScript(evaluated: Evaluated): string {
    const snippets = evaluated.activationOrder.map((name) => {
      const text = nixosOwned.has(name) ? nixosSnippet(name, evaluated) : evaluated.activationTexts[name]!;
      if (text === "") return "";
      return `#### Activation script snippet ${name}:\n_localstatus=0\n${text}\n\nif (( _localstatus > 0 )); then\n  printf "Activation script snippet '%s' failed (%s)\\n" "${name}" "$_localstatus"\nfi\n\n`;
    });
    const path = [store.coreutils, store.getent, store.utilLinux].join(" ");
    return [
      `#! ${store.bash}/bin/bash`,
      "",
      `systemConfig=${storePath("nixos-system")}`,
      "",
      "export PATH=/empty",
      `for i in ${path}; do`,
      "    PATH=$PATH:$i/bin:$i/sbin",
      "done",
      "",
      "_status=0",
      'trap "_status=1 _localstatus=\\$?" ERR',
      "",
      "# Ensure a consistent umask.",
      "umask 0022",
      "",
      snippets.join(""),
      "exit $_status",
      "",
    ].join("\n");
  }

  /**
   * One boot: the root wiped but for /nix and /persist (impermanence), /proc, /dev,
   * /sys and /run mounted as stage 1 leaves them, and the activate script run by
   * its store bash with stage 2's empty environment.
   */
  function boot(evaluated: Evaluated): { status: number | null; output: string } {
    const { root } = store;
    unmountAllUnder(root);
    for (const entry of readdirSync(root)) if (entry !== "nix" && entry !== "persist") rmSync(join(root, entry), { recursive: true, force: true });
    store.writeManifests(root, evaluated);
    const activate = join(storePath("nixos-system"), "activate");
    mkdirSync(join(root, activate, ".."), { recursive: true });
    writeFileSync(join(root, activate), activateScript(evaluated), { mode: 0o555 });
    for (const special of ["proc", "dev", "sys", "run"]) mkdirSync(join(root, special), { mode: 0o755 });
    execFileSync("mount", ["-t", "proc", "proc", join(root, "proc")]);
    execFileSync("mount", ["--rbind", "/dev", join(root, "dev")]);
    execFileSync("mount", ["--rbind", "/sys", join(root, "sys")]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", join(root, "run")]);
    expect(existsSync(join(root, "bin")) || existsSync(join(root, "usr")) || existsSync(join(root, "etc"))).toBe(false);
    // The host's chroot (found on the test's PATH) execs the activate script, by its #! line, with no variables.
    const chroot = execFileSync("sh", ["-c", "command -v chroot"], { encoding: "utf8" }).trim();
    const result = spawnSync(chroot, [root, activate], { encoding: "utf8", env: {} });
    const output = `${result.stdout}${result.stderr}${result.error ?? ""}`;
    assertNoCanary("the activation's output", output);
    return { status: result.status, output };
  }

  it("the package as installed before (a #!/bin/sh launcher) fails on this root: bad interpreter, nothing installed", () => {
    const evaluated = evaluate(store.agebootBefore, false);
    const { status, output } = boot(evaluated);
    expect(status).not.toBe(0);
    // The launcher's #!/bin/sh names nothing on this root: the kernel refuses to exec it
    // (bash 5.2 says "required file not found", older ones "bad interpreter").
    expect(readFileSync(join(store.root, store.agebootBefore, "lib/ageboot/ageboot"), "utf8")).toMatch(/^#!\/bin\/sh\n/);
    expect(output).toMatch(/lib\/ageboot\/ageboot: (cannot execute: required file not found|\/bin\/sh: bad interpreter)/);
    // And users read no password: root and alice could not log in.
    expect(output).toContain("warning: password file ‘/run/agenix/root-password’ does not exist");
    expect(output).toContain("Activation script snippet 'agenixInstall' failed");
    expect(existsSync(join(store.root, "run/agenix"))).toBe(false);
    // binsh made /bin/sh, but only after agenixInstall.
    expect(readlinkSync(join(store.root, "bin/sh"))).toBe(`${store.bash}/bin/sh`);
  });

  it("activation scripts: two boots on a wiped root install every secret, with owners and modes, and users get their passwords", () => {
    const evaluated = evaluate(store.ageboot, false);
    const order = evaluated.activationOrder;
    // What broke the package before: NixOS makes /bin/sh after agenixInstall.
    expect(order.indexOf("agenixInstall")).toBeLessThan(order.indexOf("binsh"));
    expect(order.indexOf("agenixInstall")).toBeLessThan(order.indexOf("users"));
    expect(order.indexOf("users")).toBeLessThan(order.indexOf("agenixChown"));
    expect(readFileSync(join(store.root, store.ageboot, "lib/ageboot/ageboot"), "utf8")).toMatch(new RegExp(`^#!${store.bash}/bin/bash -p\n`));

    for (const bootNumber of [1, 2]) {
      const { status, output } = boot(evaluated);
      const context = `boot ${bootNumber}:\n${output}`;
      expect(output, context).not.toMatch(/ageboot: error|[1-9][0-9]* failed|snippet .* failed|warning: password file/);
      expect(status, context).toBe(0);
      const { root } = store;
      expect(readlinkSync(join(root, "run/agenix"))).toBe("/run/agenix.d/1");
      expect(ownerGroupMode(inRoot(root, "/run/agenix/app-token"))).toBe(`${alice.uid}:${alice.users}:400`);
      expect(ownerGroupMode(inRoot(root, "/run/agenix/shared"))).toBe(`0:${alice.app}:440`);
      expect(ownerGroupMode(inRoot(root, "/run/agenix/root-password"))).toBe("0:0:400");
      expect(ownerGroupMode(inRoot(root, "/run/agenix-for-users/alice-password"))).toBe("0:0:400");
      expect(TestHost.stripCanary(readFileSync(inRoot(root, "/run/agenix/app-token"), "utf8"), "app-token")).toBe("app-token-value");
      expect(TestHost.stripCanary(readFileSync(inRoot(root, "/run/agenix/shared"), "utf8"), "shared")).toBe("shared-value");
      // The users snippet read both password files: one installed before users from the
      // secrets for users, one from the regular secrets (agenix's order: agenixInstall first).
      const shadow = readFileSync(join(root, "etc/shadow"), "utf8");
      expect(shadow).toContain(`root:${rootHash}:`);
      expect(shadow).toContain(`alice:${aliceHash}:`);
      expect(ownerGroupMode(join(root, "etc/shadow"))).toBe("0:0:600");
      // Secrets' own memory-backed mount (a noswap tmpfs where the kernel has it, else a ramfs), not a directory on the wiped root.
      const mount = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .find((line) => line.split(" ")[4] === join(root, "run/agenix.d"));
      expect(mount, "the mount at /run/agenix.d").toMatch(/ - (tmpfs \S+ \S*\bnoswap\b|ramfs )/);
    }
  });
});

// One root per boot (a BootRoot's work directory holds one root and its results).
const makeBootRoot = BootRoot.perFile("ageboot-nixos-shaped");
const makeBootRootBefore = BootRoot.perFile("ageboot-nixos-shaped-before");

describe("NixOS-shaped: systemd activation, the module's units booted", () => {
  /** Boots the module's units for the package at `packagePath`; what the checker saw, and the units' journal. */
  function bootUnits(packagePath: string, newRoot: () => BootRoot): { result: Record<string, string>; journal: string; forUsers: string; regular: string; context: string } {
    const evaluated = evaluate(packagePath, true);
    const bootRoot = newRoot();
    const { root } = bootRoot;
    // systemd needs Debian's /usr; /bin/sh goes (/bin is /usr/bin on Debian).
    rmSync(join(root, "usr/bin/sh"));
    cpSync(join(store.root, "nix"), join(root, "nix"), { recursive: true, verbatimSymlinks: true });
    store.writeManifests(root, evaluated);
    // Users from the image (userborn's work on NixOS).
    execFileSync("chroot", [root, "groupadd", "-g", String(alice.app), "app"]);
    execFileSync("chroot", [root, "useradd", "-u", String(alice.uid), "-g", "users", "-G", "app", "-M", "-s", "/usr/sbin/nologin", "alice"]);

    // The placeholder packages of the unit's path: this store's, and Debian's systemd.
    const pathOf = (entry: string) => (entry.endsWith("-util-linux") ? store.utilLinux : entry.endsWith("-getent") ? store.getent : "/usr");
    const names = Object.keys(evaluated.services);
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const name of names) {
      const unit = evaluated.services[name]!;
      bootRoot.put(
        `etc/systemd/system/${name}.service`,
        nixosUnitFile(unit, { Environment: `"PATH=${unit.path.flatMap((entry) => [`${pathOf(entry)}/bin`, `${pathOf(entry)}/sbin`]).join(":")}"` }),
      );
      for (const target of unit.wantedBy) bootRoot.enable(`${name}.service`, target);
      for (const target of unit.requiredBy) {
        mkdirSync(join(root, `etc/systemd/system/${target}.requires`), { recursive: true });
        execFileSync("ln", ["-s", `/etc/systemd/system/${name}.service`, join(root, `etc/systemd/system/${target}.requires/${name}.service`)]);
      }
    }
    const forUsers = names.find((name) => evaluated.services[name]!.before.includes("userborn.service"));
    const regular = names.find((name) => evaluated.services[name]!.serviceConfig["ExecStart"]!.toString().endsWith("ageboot-manifest.json"));
    expect(forUsers).toBeDefined();
    expect(regular).toBeDefined();
    // userborn, stood in for: it records whether the users' password files are there when it runs.
    bootRoot.put(
      "etc/systemd/system/userborn.service",
      "[Unit]\nDefaultDependencies=no\nBefore=sysinit.target\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/bash -c 'for f in /run/agenix-for-users/root-password /run/agenix-for-users/alice-password; do [ -s $f ] && echo present || echo missing; done > /results/userborn.txt'\n[Install]\nWantedBy=sysinit.target\n",
    );
    bootRoot.enable("userborn.service", "sysinit.target");
    bootRoot.put(
      "usr/local/bin/check",
      [
        "#!/bin/bash",
        "{",
        `  for unit in ${forUsers} ${regular}; do echo "result_$unit=$(systemctl show -p Result --value $unit.service)"; done`,
        '  echo "binsh=$([ -e /bin/sh ] && echo present || echo absent)"',
        "  echo \"userborn=$(tr '\\n' , < /results/userborn.txt)\"",
        "  for name in app-token shared; do echo \"stat_$name=$(stat -L -c '%u:%g:%a' /run/agenix/$name)\"; done",
        "  for name in alice-password root-password; do echo \"stat_$name=$(stat -L -c '%u:%g:%a' /run/agenix-for-users/$name)\"; done",
        '  echo "generation=$(readlink /run/agenix)"',
        `  echo "interpreter=$(head -n 1 $(readlink -f ${store.ageboot}/bin/ageboot))"`,
        `  journalctl -b -u ${forUsers}.service -u ${regular}.service --no-pager -o cat > /results/journal.txt 2>&1`,
        '  echo "done=yes"',
        "} > /results/results.txt 2>&1",
        "systemctl poweroff --no-block",
        "",
      ].join("\n"),
      0o755,
    );
    bootRoot.put(
      "etc/systemd/system/checker.service",
      "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check\n[Install]\nWantedBy=multi-user.target\n",
    );
    bootRoot.enable("checker.service", "multi-user.target");

    const { result, console: output } = bootRoot.boot([`${store.persist}:/persist`]);
    const journal = readFileSync(join(bootRoot.results, "journal.txt"), "utf8");
    assertNoCanary("the journal of the booted system", journal);
    assertNoCanary("the console of the booted system", output);
    return { result, journal, forUsers: forUsers!, regular: regular!, context: `${JSON.stringify(result, null, 1)}\n${journal}` };
  }

  it("ageboot-for-users runs before userborn, ageboot before sysinit.target, from the store alone: no /bin/sh in the root", () => {
    const { result, forUsers, regular, context } = bootUnits(store.ageboot, makeBootRoot);
    expect(result["binsh"], context).toBe("absent");
    expect(result["interpreter"], context).toBe(`#!${store.bash}/bin/bash -p`);
    expect(result[`result_${forUsers}`], context).toBe("success");
    expect(result[`result_${regular}`], context).toBe("success");
    expect(result["userborn"], context).toBe("present,present,");
    expect(result["generation"]).toBe("/run/agenix.d/1");
    expect(result["stat_app-token"]).toBe(`${alice.uid}:${alice.users}:400`);
    expect(result["stat_shared"]).toBe(`0:${alice.app}:440`);
    expect(result["stat_alice-password"]).toBe("0:0:400");
    expect(result["stat_root-password"]).toBe("0:0:400");
  }, 300_000);

  it("the package as installed before (a #!/bin/sh launcher): both units fail, userborn finds no password", () => {
    const { result, journal, forUsers, regular, context } = bootUnits(store.agebootBefore, makeBootRootBefore);
    expect(result["binsh"], context).toBe("absent");
    expect(result[`result_${forUsers}`], context).toBe("exit-code");
    expect(result[`result_${regular}`], context).toBe("exit-code");
    expect(result["userborn"], context).toBe("missing,missing,");
    expect(journal).toMatch(/lib\/ageboot\/ageboot: (cannot execute: required file not found|\/bin\/sh: bad interpreter)/);
  }, 300_000);
});
