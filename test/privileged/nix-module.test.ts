// The NixOS module and the package's dependency list, evaluated by the real
// nix-instantiate with nixpkgs' lib (nix-community/nixpkgs.lib; no nixpkgs,
// no network): lib.evalModules over nix/module.nix and stand-ins that declare
// the NixOS options it touches with nixpkgs' types
// (test/fixtures/nixos/stand-ins.nix), for the configurations in
// test/fixtures/nixos/configurations.nix.
//
// Needs nixpkgs' lib: NIXPKGS_LIB, else ../shared/nixpkgs-lib beside the
// repository (test/helpers/nixpkgs-lib.ts); with neither the file fails, never skips:
//   bash scripts/run-tests.sh test/privileged/nix-module.test.ts
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateManifest } from "../../src/manifest/validate.js";
import { placeholderFor } from "../../src/templates/placeholder.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { repoRoot } from "../helpers/paths.js";
import { expectBefore, fixtureEvaluator, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";

const nixpkgsLib = nixpkgsLibFor("the NixOS module and package evaluation tests");

const evalFile = join(repoRoot, "test/fixtures/nixos/eval.nix");

interface ServiceFacts {
  wantedBy: string[];
  requiredBy: string[];
  before: string[];
  after: string[];
  execStart: string;
  limitCore: number | null;
  restartTriggers: string[];
  aliases: string[];
  restartIfChanged: boolean;
  remainAfterExit: boolean;
  partOf: string[];
  successExitStatus: number[];
}
interface Facts {
  activationOrder: string[];
  failedAssertions: string[];
  warnings: string[];
  activation: { agenixInstall: string; agenixChown: string; agenixInstallDry: boolean; users: unknown };
  manifest: {
    secrets: Record<string, Record<string, unknown>>;
    templates?: Record<string, Record<string, unknown>>;
    identityPaths: string[];
    keepGenerations: number | "all";
  } | null;
  manifestPath: string | null;
  manifestForUsers: { secrets: Record<string, Record<string, unknown>>; secretsDir: string; secretsMountPoint: string } | null;
  manifestForUsersPath: string | null;
  checks: string[];
  checkUsers: { users: string[]; groups: string[] } | null;
  services: Record<"ageboot" | "ageboot-for-users" | "ageboot-refresh" | "ageboot-for-users-refresh", ServiceFacts | null>;
  activationScriptsWithText: string[];
  secrets: Record<string, { name: string; path: string; mode: string; owner: string; group: string; symlink: boolean; neededForUsers: boolean; file: string }>;
  identityPaths: string[];
  placeholder: Record<string, string>;
  useSystemdActivation: boolean;
  userPasswordFiles: Record<string, string | null>;
  ageOptions: Record<string, { type: string; default: unknown }>;
  secretOptions: Record<string, string>;
  sshKeyPathsIsRenamed: boolean;
}

const evaluate = fixtureEvaluator<Facts>(evalFile, nixpkgsLib);

describe("NixOS module, evaluated with nixpkgs' lib (NIXPKGS_LIB)", () => {
  describe("activation scripts (the default)", () => {
    it("README configuration: ageboot after specialfs and before users; chown after users and groups", () => {
      const facts = evaluate("readme");
      expect(facts.failedAssertions).toEqual([]);
      expect(facts.useSystemdActivation).toBe(false);
      const order = facts.activationOrder;
      expectBefore(order, "specialfs", "agenixNewGeneration");
      expectBefore(order, "agenixNewGeneration", "agenixInstall");
      expectBefore(order, "agenixInstall", "users");
      expectBefore(order, "users", "agenixChown");
      expectBefore(order, "groups", "agenixChown");
      expectBefore(order, "agenixChown", "agenix");
      expect(facts.services.ageboot).toBeNull();
    });

    it("the snippets run ageboot with core dumps off, deferring unknown owners, then chown", () => {
      const facts = evaluate("readme");
      const manifest = facts.manifestPath!;
      expect(facts.activation.agenixInstall).toContain("ulimit -c 0");
      expect(facts.activation.agenixInstall).toMatch(
        /^ {2}\*\) \( ulimit -c 0 && umask 0077 && exec '\/nix\/store\/[^']+\/bin\/ageboot' activate --manifest '([^']+)' --defer-unknown-owners --units-via nixos-activation \) ;;$/m,
      );
      // Under dry-activate, the same run as a --dry-run (nixos-activation.test.ts runs it).
      expect(facts.activation.agenixInstall).toMatch(/^ {2}dry-activate\) \( ulimit -c 0 && umask 0077 && exec '[^']+' activate --manifest '[^']+' --dry-run /m);
      expect(facts.activation.agenixInstall).toContain(`--manifest '${manifest}'`);
      expect(facts.activation.agenixChown).toContain(`chown --manifest '${manifest}'`);
      expect(facts.activation.agenixChown).toContain("ulimit -c 0");
      expect(facts.activation.agenixInstallDry).toBe(true); // under dry-activate it only reports (--dry-run)
      expect(facts.manifest!.secrets["db-password"]).toMatchObject({ owner: "postgres", group: "postgres", mode: "0400", path: "/run/agenix/db-password", symlink: true });
      expect(facts.manifest!.identityPaths).toEqual(["/persist/etc/ssh/ssh_host_ed25519_key"]);
    });

    it("agenix-style configuration: sshKeyPaths (renamed), ageBin (warning), symbolic modes, deps on agenix, a tweaked agenixInstall", () => {
      const facts = evaluate("agenix-style");
      expect(facts.failedAssertions).toEqual([]);
      expect(facts.identityPaths).toEqual(["/etc/ssh/ssh_host_ed25519_key"]);
      expect(facts.warnings.some((w) => w.includes("age.sshKeyPaths") && w.includes("age.identityPaths"))).toBe(true);
      expect(facts.warnings.some((w) => w.includes("age.ageBin") && w.includes("plugins"))).toBe(true);
      // Modes go to the manifest unchanged; ageboot applies them as chmod would.
      expect(facts.manifest!.secrets["token"]!["mode"]).toBe("u=r,g=r,o=");
      expect(facts.manifest!.secrets["world"]!["mode"]).toBe("a+r");
      // sops-nix's restartUnits and reloadUnits go to the manifest as given (ageboot adds ".service"); absent when empty.
      expect(facts.manifest!.secrets["token"]).toMatchObject({ restartUnits: ["app.service"], reloadUnits: ["nginx"] });
      expect(facts.manifest!.secrets["world"]).not.toHaveProperty("restartUnits");
      expect(facts.manifest!.secrets["short"]).toMatchObject({ mode: "440", path: "/etc/app/short", symlink: false });
      const order = facts.activationOrder;
      expectBefore(order, "agenix", "foo");
      expectBefore(order, "agenixChown", "foo");
      expectBefore(order, "var", "agenixInstall");
      expectBefore(order, "agenixInstall", "users");
    });

    it("users.users.root.hashedPasswordFile = a secret's path, mutableUsers = false: decrypted before users, no assertion", () => {
      const facts = evaluate("rootpw");
      expect(facts.failedAssertions).toEqual([]);
      expect(facts.userPasswordFiles["root"]).toBe("/run/agenix/rootpw");
      expect(facts.activation.users).toMatchObject({ deps: ["agenixInstall"] });
      expectBefore(facts.activationOrder, "agenixInstall", "users");
      // identityPaths default from services.openssh.hostKeys (rsa and ed25519), as agenix does.
      expect(facts.identityPaths).toEqual(["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"]);
    });

    it("no secrets: the agenix snippet names still exist, so deps on them evaluate", () => {
      const facts = evaluate("no-secrets");
      expect(facts.failedAssertions).toEqual([]);
      expectBefore(facts.activationOrder, "agenix", "foo");
      expect(facts.activation.agenixInstall).toBe("");
      expect(facts.checks).toEqual([]);
    });
  });

  describe("systemd activation (userborn)", () => {
    it("a password secret with neededForUsers is decrypted before userborn into the root-only directory", () => {
      const facts = evaluate("rootpw-systemd");
      expect(facts.failedAssertions).toEqual([]);
      expect(facts.useSystemdActivation).toBe(true);
      expect(facts.userPasswordFiles["root"]).toBe("/run/agenix-for-users/rootpw");
      expect(facts.manifestForUsers).toMatchObject({ secretsDir: "/run/agenix-for-users", secretsMountPoint: "/run/agenix-for-users.d" });
      expect(Object.keys(facts.manifestForUsers!.secrets)).toEqual(["rootpw"]);
      expect(Object.keys(facts.manifest!.secrets)).toEqual(["app-token"]);
      const forUsers = facts.services["ageboot-for-users"]!;
      expect(forUsers.before).toEqual(expect.arrayContaining(["systemd-sysusers.service", "userborn.service", "sysinit.target"]));
      expect(forUsers.wantedBy).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service"]));
      expect(forUsers.after).not.toContain("local-fs.target"); // userborn runs before local-fs.target: that would be a cycle
      expect(forUsers.execStart).toContain(facts.manifestForUsersPath!);
      expect(forUsers.limitCore).toBe(0);
      const main = facts.services.ageboot!;
      expect(main.after).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service", "local-fs.target"]));
      expect(main.before).toEqual(expect.arrayContaining(["sysinit.target", "sysinit-reactivation.target", "systemd-networkd.service"]));
      expect(main.requiredBy).toContain("sysinit-reactivation.target");
      expect(main.limitCore).toBe(0);
      // The users snippet is userborn's empty string, left alone.
      expect(facts.activation.users).toBe("");
    });

    it("a switch never restarts the boot units (so not what requires them): refresh units that nothing depends on re-decrypt", () => {
      const facts = evaluate("rootpw-systemd");
      for (const boot of [facts.services.ageboot!, facts.services["ageboot-for-users"]!]) {
        // X-RestartIfChanged=false and no restartTriggers: switch-to-configuration skips them.
        expect(boot.restartIfChanged).toBe(false);
        expect(boot.restartTriggers).toEqual([]);
        expect(boot.remainAfterExit).toBe(true);
        expect(boot.wantedBy).toContain("sysinit.target");
      }
      const refresh = facts.services["ageboot-refresh"]!;
      const refreshForUsers = facts.services["ageboot-for-users-refresh"]!;
      expect(refresh.execStart).toBe(facts.services.ageboot!.execStart);
      expect(refreshForUsers.execStart).toBe(facts.services["ageboot-for-users"]!.execStart);
      for (const unit of [refresh, refreshForUsers]) {
        // Run once by each restart of sysinit-reactivation.target (every switch and test), never at boot:
        // started through Wants= the first time, restarted through PartOf= later; active in between, so
        // that the switch's closing start of the active target leaves it alone.
        expect(unit.wantedBy).toEqual(["sysinit-reactivation.target"]);
        expect(unit.partOf).toEqual(["sysinit-reactivation.target"]);
        expect(unit.requiredBy).toEqual([]);
        expect(unit.before).toContain("sysinit-reactivation.target");
        expect(unit.remainAfterExit).toBe(true);
        expect(unit.restartIfChanged).toBe(false);
        expect(unit.aliases).toEqual([]);
        expect(unit.limitCore).toBe(0);
      }
      expect(refresh.after).toEqual(expect.arrayContaining(["ageboot.service", "ageboot-for-users-refresh.service"]));
      expect(refreshForUsers.after).toEqual(["ageboot-for-users.service"]);
      // At a switch as at boot: passwords decrypted before users are made (userborn or sysusers), the owners' secrets after.
      expect(refreshForUsers.before).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service"]));
      expect(refresh.after).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service"]));
    });

    it("exit 7 (every secret installed, a custom path not) is success for the boot and refresh units, for-users too", () => {
      const { services } = evaluate("rootpw-systemd");
      for (const name of ["ageboot", "ageboot-for-users", "ageboot-refresh", "ageboot-for-users-refresh"] as const) {
        expect(services[name]?.successExitStatus, name).toEqual([7]);
      }
    });

    it("no activation snippet: restrict-activation-scripts.nix finds nothing of ageboot's to warn about", () => {
      // nixpkgs' list of snippets it does not warn on (restrict-activation-scripts.nix at 27bf0424a460613dfe54790128985e422f9101ba).
      const exempt = ["binsh", "etc", "groups", "hashes", "modprobe", "specialfs", "udevd", "users", "usrbinenv"];
      const facts = evaluate("rootpw-systemd");
      expect(facts.activationScriptsWithText.filter((name) => !exempt.includes(name))).toEqual([]);
      // The agenix names stay, empty, so that deps on them still evaluate.
      expect(facts.activationOrder).toEqual(expect.arrayContaining(["agenixNewGeneration", "agenixInstall", "agenixChown", "agenix"]));
      // With activation scripts the snippets are there, and named (the warning is nixpkgs' own business there).
      expect(evaluate("rootpw").activationScriptsWithText).toEqual(expect.arrayContaining(["agenixInstall", "agenixChown"]));
    });

    it("ageboot.service is also agenix-install-secrets.service (agenix's unit), for after/requires on that name", () => {
      const facts = evaluate("rootpw-systemd");
      expect(facts.services.ageboot!.aliases).toEqual(["agenix-install-secrets.service"]);
      expect(facts.services["ageboot-for-users"]!.aliases).toEqual([]);
      // Only secrets for users: the unit that exists carries the name.
      const only = evaluate("rootpw-systemd-only");
      expect(only.failedAssertions).toEqual([]);
      expect(only.services.ageboot).toBeNull();
      expect(only.services["ageboot-refresh"]).toBeNull();
      expect(only.services["ageboot-for-users"]!.aliases).toEqual(["agenix-install-secrets.service"]);
    });

    it("a password file in the regular secrets directory fails an assertion that says what to do", () => {
      const facts = evaluate("rootpw-systemd-unserved");
      expect(facts.failedAssertions).toHaveLength(1);
      expect(facts.failedAssertions[0]).toContain('users.users.root.hashedPasswordFile = "/run/agenix/rootpw"');
      expect(facts.failedAssertions[0]).toContain("neededForUsers = true");
    });

    it("systemd activation with users made by the `users` script (no userborn, no sysusers) fails an assertion naming the password file", () => {
      const facts = evaluate("rootpw-systemd-scripted-users");
      expect(facts.failedAssertions).toHaveLength(1);
      expect(facts.failedAssertions[0]).toContain('users.users.root.hashedPasswordFile = "/run/agenix-for-users/rootpw"');
      expect(facts.failedAssertions[0]).toContain("useSystemdActivation = false");
    });
  });

  describe("templates (age.templates, config.age.placeholder)", () => {
    it("writes templates and units into the manifest, with placeholders ageboot computes alike", () => {
      const facts = evaluate("templates");
      expect(facts.failedAssertions).toEqual([]);
      expect(facts.placeholder).toEqual({ "db-password": placeholderFor("db-password"), "api-token": placeholderFor("api-token") });
      const manifest = facts.manifest!;
      expect(manifest.secrets["db-password"]).toMatchObject({ restartUnits: ["app.service"] });
      expect(manifest.secrets["api-token"]).toMatchObject({ reloadUnits: ["nginx"] });
      expect(manifest.templates!["app.env"]).toEqual({
        content: `DB_PASSWORD=${placeholderFor("db-password")}\nAPI_TOKEN=${placeholderFor("api-token")}\n`,
        path: "/run/agenix/rendered/app.env",
        owner: "app",
        group: "app",
        mode: "0440",
        symlink: true,
        restartUnits: ["app.service"],
      });
      expect(manifest.templates!["app.conf"]).toMatchObject({ path: "/etc/app/app.conf", file: expect.stringMatching(/^\/nix\/store\/[a-z0-9]{32}-app\.conf\.tmpl$/) });
      // ageboot validates what the module wrote (the manifest as JSON, as activation reads it).
      const validated = validateManifest(manifest);
      expect("problems" in validated ? validated.problems : []).toEqual([]);
      // Templates are checked at build time with the secrets they name.
      expect(facts.checks[0]).toMatch(/check --manifest \S+ageboot-check-manifest\.json/);
      expect(facts.checks[0]).not.toContain("templates not checked");
    });

    it("a placeholder for a secret that is not declared fails the evaluation, naming it", () => {
      expect(() => evaluate("template-unknown-secret")).toThrow(/attribute 'db-pasword' missing/);
    });

    it("a template with both content and file fails an assertion that names it", () => {
      expect(evaluate("template-content-and-file").failedAssertions).toEqual([expect.stringContaining("set exactly one of content and file (both)")]);
    });
  });

  describe("build-time check (age.validateSecrets)", () => {
    it("runs ageboot check with the declared users and groups, and the host keys when known", () => {
      const readme = evaluate("readme");
      expect(readme.checks).toHaveLength(1);
      expect(readme.checks[0]).toMatch(/\/bin\/ageboot check --manifest \S+ageboot-check-manifest\.json +--users \S+ageboot-users\.json$/m);
      expect(readme.checks[0]).toContain("no host public key known");
      expect(readme.checkUsers).toEqual({ users: ["postgres", "root"], groups: ["keys", "nogroup", "postgres", "root"] });
      const systemd = evaluate("rootpw-systemd");
      expect(systemd.checks[0]).toMatch(/ --host-key \S+ageboot-host-key-0\.pub --users /);
      expect(systemd.checks[0]).not.toContain("no host public key known");
      // One run per manifest: the regular secrets and those for users' passwords.
      expect(systemd.checks[0]).toMatch(/check --manifest \S+ageboot-check-manifest\.json --host-key/);
      expect(systemd.checks[0]).toMatch(/check --manifest \S+ageboot-check-manifest-for-users\.json --host-key/);
    });

    it("cross-built (aarch64-linux on x86_64-linux): the check runs the build platform's ageboot, the host its own", () => {
      const native = evaluate("readme");
      expect(native.checks[0]).toMatch(/^\/nix\/store\/0{32}-ageboot\/bin\/ageboot check /m);
      const cross = evaluate("cross");
      expect(cross.failedAssertions).toEqual([]);
      // pkgs.buildPackages' ageboot (test/fixtures/nixos/fake-pkgs.nix gives it its own store path).
      expect(cross.checks[0]).toMatch(/^\/nix\/store\/1{32}-ageboot\/bin\/ageboot check --manifest /m);
      expect(cross.checks[0]).not.toContain("0".repeat(32) + "-ageboot/");
      expect(cross.activation.agenixInstall).toContain("exec '/nix/store/" + "0".repeat(32) + "-ageboot/bin/ageboot' activate");
    });

    it("a file given as a string outside the store is named in the build log, not checked", () => {
      const facts = evaluate("string-file");
      expect(facts.checks[0]).toContain("not checked at build time (file outside the Nix store, read at boot): outside");
      expect(facts.manifest!.secrets["outside"]!["file"]).toBe("/var/lib/secrets/outside.age");
    });
  });

  it("age.package set to an age implementation (agenix's home-manager meaning) is an assertion that says what it is here", () => {
    expect(evaluate("age-implementation-package").failedAssertions).toEqual([
      "age.package is rage: in ageboot's NixOS module it is the ageboot package, which decrypts natively (agenix's age implementation is age.ageBin, which ageboot does not run). Remove the setting.",
    ]);
  });

  describe("agenix's options, types and defaults (ryantm/agenix modules/age.nix)", () => {
    it("every agenix option exists with agenix's type and default", () => {
      const facts = evaluate("defaults");
      const options = facts.ageOptions;
      expect(options["ageBin"]).toEqual({ type: "string", default: "/nix/store/00000000000000000000000000000000-age/bin/age" });
      expect(options["secrets"]).toEqual({ type: "attribute set of (submodule)", default: {} });
      expect(options["secretsDir"]).toEqual({ type: "absolute path", default: "/run/agenix" });
      expect(options["secretsMountPoint"]).toEqual({ type: "string (with check: non-empty without trailing slash)", default: "/run/agenix.d" });
      expect(options["identityPaths"]).toEqual({ type: "list of absolute path", default: [] });
      expect(facts.sshKeyPathsIsRenamed).toBe(true);
      expect(facts.secretOptions).toMatchObject({ name: "string", file: "absolute path", path: "string", mode: "string", owner: "string", group: "string", symlink: "boolean" });
      expect(facts.secrets["x"]).toMatchObject({ name: "x", path: "/run/agenix/x", mode: "0400", owner: "0", group: "0", symlink: true, neededForUsers: false });
      expect(evaluate("defaults-openssh").identityPaths).toEqual(["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"]);
      // group defaults to the owner's primary group.
      expect(evaluate("readme").secrets["db-password"]).toMatchObject({ owner: "postgres", group: "postgres" });
      // ageboot's own options, with their defaults.
      // agenix keeps only the current generation (modules/age.nix cleanupAndLink removes generation N-1).
      expect(options["keepGenerations"]).toEqual({ type: "unsigned integer, meaning >=0", default: 0 });
      expect(options["useSystemdActivation"]).toEqual({ type: "boolean", default: false });
      expect(options["validateSecrets"]).toEqual({ type: "boolean", default: true });
      expect(options["hostPublicKeys"]).toEqual({ type: "list of (absolute path or string)", default: [] });
      expect(options["secretsForUsersDir"]).toEqual({ type: "string", default: "/run/agenix-for-users" });
    });
  });
});

describe("pruning, with the keepGenerations the module writes, activated", () => {
  const newHost = hostPerTest();

  /** Three activations of the module's manifest settings on a test host, a secret rotated each time; the generations left. */
  function generationsAfterThreeRuns(keepGenerations: number | "all"): number[] {
    const host = newHost();
    host.keepGenerations = keepGenerations;
    for (let run = 1; run <= 3; run++) {
      host.writeManifest({ token: { file: host.encrypt(`token-${run}`) } });
      const result = host.activate();
      expect(result.status, result.stderr).toBe(0);
    }
    expect(host.read("token")).toBe("token-3");
    return readdirSync(host.mountPoint)
      .filter((name) => /^[0-9]+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  }

  it("agenix's default: only the current generation is left after 3 runs (ryantm/agenix modules/age.nix)", () => {
    const { keepGenerations } = evaluate("defaults").manifest!;
    expect(keepGenerations).toBe(0);
    expect(generationsAfterThreeRuns(keepGenerations)).toEqual([3]);
  });

  it("age.keepGenerations = 1 keeps the current generation and the one before", () => {
    const { keepGenerations } = evaluate("readme").manifest!;
    expect(keepGenerations).toBe(1);
    expect(generationsAfterThreeRuns(keepGenerations)).toEqual([2, 3]);
  });
});

describe("nix/package.nix dependency list, evaluated with nixpkgs' lib (NIXPKGS_LIB)", () => {
  it("resolves every locked package to a location (name@version, registry path) and its integrity hash", () => {
    const expression = `let lib = import (/. + "${nixpkgsLib}/lib"); in import ${join(repoRoot, "nix/lib/npm-lock-sources.nix")} { inherit lib; } (lib.importJSON ${join(repoRoot, "package-lock.json")})`;
    const sources = JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "-E", expression], { encoding: "utf8" })) as Array<{
      key: string;
      name: string;
      version: string;
      integrity: string;
      spec: string;
      tarball: string;
      storeName: string;
    }>;
    const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; integrity?: string; resolved?: string; name?: string }>;
    };
    const locked = Object.keys(lock.packages).filter((key) => key !== "");
    expect(sources.map((source) => source.key).sort()).toEqual(locked.sort());
    for (const source of sources) {
      const entry = lock.packages[source.key]!;
      expect(entry.resolved, `${source.key} has no resolved field`).toBeUndefined();
      const name = source.key.replace(/^.*node_modules\//, "");
      expect(source.name).toBe(entry.name ?? name);
      expect(source.version).toBe(entry.version);
      expect(source.spec).toBe(`${source.name}@${entry.version}`);
      expect(source.tarball).toBe(`${source.name}/-/${source.name.replace(/^@[^/]+\//, "")}-${entry.version}.tgz`);
      expect(source.integrity).toBe(entry.integrity);
      expect(source.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
      expect(source.storeName).toMatch(/^[A-Za-z0-9+._?=-]+\.tgz$/);
    }
    // package.json's direct dependencies are all among them (package.nix maps them to file: tarballs).
    const packageJson = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const name of [...Object.keys(packageJson.dependencies), ...Object.keys(packageJson.devDependencies)]) {
      expect(
        sources.some((source) => source.key === `node_modules/${name}`),
        name,
      ).toBe(true);
    }
  });

  it("names no registry host: no resolved field in the lock, no URL in the package's Nix files", () => {
    expect(readFileSync(join(repoRoot, "package-lock.json"), "utf8")).not.toContain('"resolved"');
    for (const file of ["nix/package.nix", "nix/lib/npm-lock-sources.nix", "nix/lib/npm-lock-closure.nix", "nix/lib/npm-lock-files.nix"]) {
      expect(readFileSync(join(repoRoot, file), "utf8")).not.toMatch(/https?:\/\//);
    }
  });
});
