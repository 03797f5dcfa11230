// nixosModules.sops (nix/sops.nix), evaluated by the real nix-instantiate
// with nixpkgs' lib (test/fixtures/nixos/eval-sops.nix, the same stand-ins as
// the age module's evaluation), for configurations written as sops-nix's
// README writes them (test/fixtures/nixos/sops-configurations.nix); then the
// manifests that evaluation produced are activated by the real CLI on a real
// ramfs, against a sops YAML made by the test encoder and encrypted to the
// age1 recipient of the host's ssh-keygen key (how sops-nix hosts are keyed),
// and the files are checked where sops-nix puts them, with the bytes,
// owners and modes sops-nix's installer gives them
// (Mic92/sops-nix pkgs/sops-install-secrets/main.go: a value's string bytes,
// nothing appended; the whole decrypted file for key ""; any other type an
// error; templates rendered by plain replacement of each placeholder).
//
// Needs nixpkgs' lib (NIXPKGS_LIB, else ../shared/nixpkgs-lib beside the
// repository); fails without it, as nix-module.test.ts does. The manifests'
// paths are the host's (/run/secrets,
// the store path of the YAML, /etc/ssh/...): before activation every
// absolute path is moved under the test host's directory, nothing else.
import { execFileSync } from "node:child_process";
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { craftYaml } from "../helpers/sops-craft.js";
import { repoRoot } from "../helpers/paths.js";
import { sshKeygen } from "../helpers/tools.js";
import { expectBefore, fixtureEvaluator, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";

const nixpkgsLib = nixpkgsLibFor("the nixosModules.sops evaluation and activation tests");

const evalFile = join(repoRoot, "test/fixtures/nixos/eval-sops.nix");
const { alice } = TEST_USERS;

type Manifest = {
  secretsDir: string;
  secretsMountPoint: string;
  identityPaths: string[];
  secrets: Record<string, Record<string, unknown>>;
  templates?: Record<string, Record<string, unknown>>;
};
interface Facts {
  activationOrder: string[];
  failedAssertions: string[];
  warnings: string[];
  activation: { setupSecrets: string | null; setupSecretsForUsers: string | null; generateAgeKey: string | null };
  manifest: Manifest;
  manifestPath: string;
  manifestForUsers: Manifest;
  checks: string[];
  placeholder: Record<string, string>;
  services: Record<
    "sops-install-secrets" | "sops-install-secrets-for-users" | "sops-install-secrets-refresh" | "sops-install-secrets-for-users-refresh",
    {
      wantedBy: string[];
      requiredBy: string[];
      before: string[];
      after: string[];
      execStart: string;
      aliases: string[];
      restartIfChanged: boolean;
      remainAfterExit: boolean;
      partOf: string[];
      successExitStatus: number[];
    } | null
  >;
  activationScriptsWithText: string[];
  secretPaths: Record<string, string>;
  templatePaths: Record<string, string>;
  sopsFileHashes: Record<string, string>;
  optionNames: Record<"sops" | "age" | "gnupg" | "secret" | "template", string[]>;
}

// The README's values, each with the canary; a multi-line value; a number.
const values = {
  "example-key": `example-${CANARY}`,
  "example-secret": `secret-${CANARY}`,
  myservice: { my_subdir: { my_secret: `nested-${CANARY}` }, port: 8080 },
  multiline: `-----BEGIN KEY-----\n${CANARY}\n-----END KEY-----\n`,
};

const host = hostPerFile();
const sopsFile = join(host.root, "secrets.yaml");

beforeAll(async () => {
  requirePrivateNamespace();
  const derived = runAgeboot(["recipient", `${host.key}.pub`]);
  expect(derived.status, derived.stderr).toBe(0);
  writeFileSync(sopsFile, await craftYaml(values, { recipients: [derived.stdout.trim()] }));
});

const evaluate = fixtureEvaluator<Facts>(evalFile, nixpkgsLib, { sopsFile, serviceUser: alice.name });

/** The evaluation's error output (a configuration that must not evaluate). */
function evaluationError(configuration: string): string {
  try {
    evaluate(configuration);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error(`${configuration} evaluated`);
}

/**
 * The manifest as the host would read it, moved under the test host: the
 * YAML's store path becomes the file the test made, every other absolute
 * path gets the host's directory in front (/run/... that of `root`, so
 * that a second host can share the first one's keys). Written next to the
 * host's manifest.
 */
function onTestHost(manifest: Manifest, name: string, root = host.root): string {
  const move = (value: unknown): unknown => {
    if (typeof value === "string" && value.startsWith("/nix/store/") && value.endsWith("-secrets.yaml")) return sopsFile;
    if (typeof value === "string" && value.startsWith("/run/")) return join(root, value);
    if (typeof value === "string" && value.startsWith("/") && !value.startsWith("/nix/store/")) return join(host.root, value);
    if (Array.isArray(value)) return value.map(move);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, key === "content" ? item : move(item)]));
    return value;
  };
  const path = join(host.root, name);
  writeFileSync(path, JSON.stringify(move(manifest), null, 2));
  return path;
}

function ownerGroupMode(path: string): [number, number, string] {
  const info = lstatSync(path);
  return [info.uid, info.gid, (info.mode & 0o7777).toString(8).padStart(4, "0")];
}

describe("nixosModules.sops, evaluated with nixpkgs' lib (NIXPKGS_LIB)", () => {
  it("sops-nix's README configuration: the manifest has sops-nix's paths, formats, keys, owners, units and the template", () => {
    const facts = evaluate("readme");
    expect(facts.failedAssertions).toEqual([]);
    expect(facts.warnings).toEqual([]);
    const { manifest } = facts;
    expect(manifest.secretsDir).toBe("/run/secrets");
    expect(manifest.secretsMountPoint).toBe("/run/secrets.d");
    expect(manifest.identityPaths).toEqual(["/var/lib/sops-nix/key.txt", "/etc/ssh/ssh_host_ed25519_key"]);
    const file = manifest.secrets["example-key"]!["file"] as string;
    expect(file).toMatch(/^\/nix\/store\/[0-9a-z]{32}-secrets\.yaml$/);
    expect(manifest.secrets).toEqual({
      "example-key": { file, format: "yaml", key: "example-key", path: "/run/secrets/example-key", mode: "0400", owner: "0", group: "0", symlink: true },
      "myservice/my_subdir/my_secret": {
        file,
        format: "yaml",
        key: "myservice/my_subdir/my_secret",
        path: "/run/secrets/myservice/my_subdir/my_secret",
        mode: "0400",
        owner: "0",
        group: "0",
        symlink: true,
      },
      "example-secret": {
        file,
        format: "yaml",
        key: "example-secret",
        path: "/run/secrets/example-secret",
        mode: "0440",
        owner: "nobody",
        group: "nogroup",
        symlink: true,
        restartUnits: ["example.service"],
      },
    });
    // config.sops.placeholder is ageboot's placeholder, which `ageboot placeholder` prints.
    const placeholder = runAgeboot(["placeholder", "example-key"]).stdout.trim();
    expect(facts.placeholder["example-key"]).toBe(placeholder);
    expect(manifest.templates).toEqual({
      "your-config-with-secrets.toml": {
        content: `password = "${placeholder}"\n`,
        path: "/run/secrets/rendered/your-config-with-secrets.toml",
        mode: "0400",
        owner: alice.name,
        group: alice.name,
        symlink: true,
      },
    });
    expect(facts.templatePaths).toEqual({ "your-config-with-secrets.toml": "/run/secrets/rendered/your-config-with-secrets.toml" });
    expect(facts.manifestForUsers.secrets).toEqual({});
    // sopsFileHash, as sops-nix: the file's sha256.
    expect(facts.sopsFileHashes["example-key"]).toBe(execFileSync("sha256sum", [sopsFile], { encoding: "utf8" }).split(" ")[0]);
  });

  it("declares every option sops-nix's module declares (Mic92/sops-nix modules/sops, templates/, secrets-for-users/)", () => {
    // sops-nix's names, read from its module at 56b24064 (June 2026); ageboot adds hostPublicKeys.
    const names = evaluate("readme").optionNames;
    expect(names.sops.filter((name) => name !== "hostPublicKeys").sort()).toEqual(
      [
        "age",
        "defaultSopsFile",
        "defaultSopsFormat",
        "defaultSopsKey",
        "environment",
        "gnupg",
        "gnupgHome",
        "keepGenerations",
        "log",
        "package",
        "placeholder",
        "secrets",
        "sshKeyPaths",
        "templates",
        "useSystemdActivation",
        "useTmpfs",
        "validateSopsFiles",
        "validationPackage",
      ].sort(),
    );
    expect(names.age.sort()).toEqual(["generateKey", "keyFile", "plugins", "sshKeyPaths"]);
    expect(names.gnupg.sort()).toEqual(["home", "package", "sshKeyPaths"]);
    expect(names.secret.sort()).toEqual(
      ["format", "gid", "group", "key", "mode", "name", "neededForUsers", "owner", "path", "reloadUnits", "restartUnits", "sopsFile", "sopsFileHash", "uid"].sort(),
    );
    expect(names.template.sort()).toEqual(["content", "file", "gid", "group", "mode", "name", "owner", "path", "reloadUnits", "restartUnits", "uid"].sort());
  });

  it("activation scripts in sops-nix's order: generate-age-key, then setupSecrets after users and groups, running ageboot", () => {
    const facts = evaluate("readme");
    const order = facts.activationOrder;
    expectBefore(order, "specialfs", "setupSecrets");
    expectBefore(order, "users", "setupSecrets");
    expectBefore(order, "groups", "setupSecrets");
    expectBefore(order, "generate-age-key", "setupSecrets");
    expect(facts.activation.setupSecretsForUsers).toBeNull();
    // After users and groups: every owner exists, so none is deferred (sops-nix fails such a secret too).
    expect(facts.activation.setupSecrets).toMatch(
      /^ {2}\*\) \( ulimit -c 0 && umask 0077 && exec '\/nix\/store\/[^']+\/bin\/ageboot' activate --manifest '([^']+)' --units-via nixos-activation \) ;;$/m,
    );
    // sops-nix's setupSecrets supports dry activation: here a --dry-run.
    expect(facts.activation.setupSecrets).toMatch(
      /^ {2}dry-activate\) \( ulimit -c 0 && umask 0077 && exec '[^']+' activate --manifest '[^']+' --dry-run --units-via nixos-activation \) ;;$/m,
    );
    expect(facts.activation.setupSecrets).toContain(`--manifest '${facts.manifestPath}'`);
    expect(facts.activation.generateAgeKey).toContain("age-keygen -o /var/lib/sops-nix/key.txt");
    expect(facts.services["sops-install-secrets"]).toBeNull();
    // The build-time check (validateSopsFiles) runs ageboot check on the manifest.
    expect(facts.checks).toHaveLength(1);
    expect(facts.checks[0]).toMatch(/\/bin\/ageboot check --manifest \S+ageboot-check-manifest\.json +--users \S+ageboot-users\.json$/m);
    expect(facts.checks[0]).toContain("no host public key known (sops.hostPublicKeys is empty)");
  });

  it("neededForUsers: setupSecretsForUsers before users, into /run/secrets-for-users; uid and gid as numbers; a custom path", () => {
    const facts = evaluate("for-users");
    expect(facts.failedAssertions).toEqual([]);
    expectBefore(facts.activationOrder, "specialfs", "setupSecretsForUsers");
    expectBefore(facts.activationOrder, "setupSecretsForUsers", "users");
    expect(facts.activation.setupSecretsForUsers).toContain("ageboot-manifest-for-users.json");
    expect(facts.manifestForUsers).toMatchObject({
      secretsDir: "/run/secrets-for-users",
      secretsMountPoint: "/run/secrets-for-users.d",
      secrets: { "root-password": { key: "example-key", path: "/run/secrets-for-users/root-password", owner: "0", group: "0" } },
    });
    expect(facts.manifest.secrets["example-key"]).toMatchObject({ owner: "1000", group: "100", path: "/etc/app/key", symlink: true });
    // A secret for users has no placeholder: templates live in the other generation.
    expect(Object.keys(facts.placeholder)).toEqual(["example-key"]);
  });

  it("systemd activation: the units are sops-install-secrets(-for-users).service, as in sops-nix", () => {
    const facts = evaluate("systemd");
    expect(facts.failedAssertions).toEqual([]);
    const units = facts.services;
    expect(units["sops-install-secrets"]!.execStart).toMatch(/\/bin\/ageboot activate --manifest \S+ageboot-manifest\.json$/);
    expect(units["sops-install-secrets"]!.wantedBy).toEqual(["sysinit.target"]);
    expect(units["sops-install-secrets"]!.after).toContain("sops-install-secrets-for-users.service");
    expect(units["sops-install-secrets-for-users"]!.before).toContain("userborn.service");
    // No activation snippet in systemd mode, as sops-nix (restrict-activation-scripts.nix warns on them).
    expect(facts.activation.setupSecrets).toBeNull();
    expect(facts.activationScriptsWithText.filter((name) => !["binsh", "etc", "groups", "hashes", "modprobe", "specialfs", "udevd", "users", "usrbinenv"].includes(name))).toEqual(
      [],
    );
  });

  it("systemd activation: a switch never restarts the units (so not what requires them); -refresh units re-decrypt", () => {
    const units = evaluate("systemd").services;
    for (const name of ["sops-install-secrets", "sops-install-secrets-for-users"] as const) {
      expect(units[name]!.restartIfChanged).toBe(false);
      expect(units[name]!.remainAfterExit).toBe(true);
      expect(units[name]!.aliases).toEqual([]); // already sops-nix's names
      const refresh = units[`${name}-refresh`]!;
      expect(refresh.execStart).toBe(units[name]!.execStart);
      expect(refresh.wantedBy).toEqual(["sysinit-reactivation.target"]);
      expect(refresh.requiredBy).toEqual([]);
      expect(refresh.before).toContain("sysinit-reactivation.target");
      expect(refresh.after).toContain(`${name}.service`);
      expect(refresh.partOf).toEqual(["sysinit-reactivation.target"]);
      expect(refresh.remainAfterExit).toBe(true);
      expect(refresh.restartIfChanged).toBe(false);
    }
    expect(units["sops-install-secrets-refresh"]!.after).toContain("sops-install-secrets-for-users-refresh.service");
    // At a switch as at boot: the passwords before users are made, the owners' secrets after.
    expect(units["sops-install-secrets-for-users-refresh"]!.before).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service"]));
    expect(units["sops-install-secrets-refresh"]!.after).toEqual(expect.arrayContaining(["userborn.service", "systemd-sysusers.service"]));
  });

  it("systemd activation: exit 7 (every secret installed, a custom path not) is success for every unit", () => {
    const units = evaluate("systemd").services;
    for (const name of ["sops-install-secrets", "sops-install-secrets-for-users", "sops-install-secrets-refresh", "sops-install-secrets-for-users-refresh"] as const) {
      expect(units[name]?.successExitStatus, name).toEqual([7]);
    }
  });

  it.each([
    ["gnupg-home", "sops.gnupg.home: not supported by ageboot"],
    ["gnupg-ssh", "sops.gnupg.sshKeyPaths: not supported by ageboot"],
    ["gnupg-renamed", "sops.gnupg.home: not supported by ageboot"],
    ["age-plugins", "sops.age.plugins: not supported by ageboot"],
  ])("%s: an assertion says ageboot does not support it (PGP, plugins)", (configuration, message) => {
    const failed = evaluate(configuration).failedAssertions;
    expect(failed.some((text) => text.startsWith(message) && text.includes("not PGP, KMS or age\nplugins"))).toBe(true);
  });

  it("sops-nix's sops-install-secrets kept as sops.package is an assertion, not a failed boot", () => {
    expect(evaluate("foreign-package").failedAssertions).toContain(
      "sops.package is sops-install-secrets: with nixosModules.sops it must be the ageboot package (sops-nix's sops-install-secrets is not used). Remove the setting.",
    );
    expect(evaluate("readme").failedAssertions).toEqual([]);
  });

  it("the build-time check runs on the build machine: the build platform's ageboot when cross-built, sops.validationPackage when set", () => {
    const onHost = (script: string) => script.match(/^(\S+) check --manifest /m)?.[1];
    const setup = (facts: Facts) => facts.activation.setupSecrets?.match(/exec '(\S+)' activate/)?.[1];
    const hostAgeboot = "/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot";
    const buildAgeboot = "/nix/store/11111111111111111111111111111111-ageboot/bin/ageboot";
    // Native (test/fixtures/nixos/fake-pkgs.nix: x86_64-linux on x86_64-linux): sops.package itself.
    const native = evaluate("readme");
    expect([onHost(native.checks[0]!), setup(native)]).toEqual([hostAgeboot, hostAgeboot]);
    // aarch64-linux built on x86_64-linux: the check runs pkgs.buildPackages' ageboot; the host runs its own.
    const cross = evaluate("cross");
    expect(cross.failedAssertions).toEqual([]);
    expect([onHost(cross.checks[0]!), setup(cross)]).toEqual([buildAgeboot, hostAgeboot]);
    // Set: honoured, without the warning it used to give; another program there: an assertion.
    const set = evaluate("validation-package");
    expect([onHost(set.checks[0]!), set.warnings, set.failedAssertions]).toEqual([buildAgeboot, [], []]);
    expect(evaluate("foreign-validation-package").failedAssertions).toEqual([
      expect.stringMatching(/^sops\.validationPackage is sops-install-secrets: .* must be an ageboot package/),
    ]);
  });

  it("only an RSA host key: the assertion says no ed25519 key is there and what to do, not to enable openssh", () => {
    const [message, ...others] = evaluate("rsa-only").failedAssertions;
    expect(others).toEqual([]);
    expect(message).toMatch(/^No key source configured for sops: services\.openssh is enabled, but none of its hostKeys\nis an ed25519 key \(rsa \/etc\/ssh\/ssh_host_rsa_key\)/);
    expect(message).toContain('sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_rsa_key" ]');
    expect(message).toContain("add an ed25519 host key to services.openssh.hostKeys");
    expect(message).not.toContain("set services.openssh.enable");
    // The other ways to have no key with openssh on say their own cause.
    expect(evaluate("ed25519-from-sops").failedAssertions).toEqual([
      expect.stringMatching(/^No key source configured for sops: the ed25519 host keys .* are all under \/run\/secrets/),
    ]);
    expect(evaluate("no-ssh-key-paths").failedAssertions).toEqual([
      expect.stringMatching(/^No key source configured for sops: sops\.age\.sshKeyPaths is empty and sops\.age\.keyFile is unset/),
    ]);
  });

  it("a placeholder for a secret that is not declared fails the evaluation, naming it", () => {
    expect(evaluationError("unknown-placeholder")).toContain("example-kye");
  });

  it("validateSopsFiles: a file outside the store and owner with uid are assertions; turned off, nothing is checked", () => {
    const failed = evaluate("not-in-store").failedAssertions;
    expect(failed).toContain(
      "sops.validateSopsFiles:\n- Cannot find path '/var/lib/secrets.yaml' set in sops.secrets.example-key.sopsFile\n- '/var/lib/secrets.yaml' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false",
    );
    expect(failed).toContain("sops.secrets.example-key: set exactly one of owner and uid");
    const off = evaluate("not-validated");
    expect(off.failedAssertions).toEqual([]);
    expect(off.checks).toEqual([]);
  });

  it("no key source, and options accepted but unused, say so", () => {
    expect(evaluate("no-keys").failedAssertions).toContain("No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile.");
    const warnings = evaluate("ignored").warnings;
    expect(warnings.some((w) => w.startsWith("sops.useTmpfs is ignored"))).toBe(true);
    expect(warnings.some((w) => w.startsWith("sops.environment (SOPS_AGE_KEY_FILE) is not used"))).toBe(true);
  });

  it("imported beside nixosModules.default (age.*): both work, each in its own directory", () => {
    const facts = evaluate("with-age-module");
    expect(facts.failedAssertions).toEqual([]);
    expect(facts.manifest.secretsDir).toBe("/run/secrets");
    expect(Object.keys(facts.manifest.secrets)).toEqual(["example-key"]);
    expect(facts.activationOrder).toEqual(expect.arrayContaining(["agenixInstall", "agenixChown", "setupSecrets"]));
    expectBefore(facts.activationOrder, "agenixInstall", "setupSecrets");
  });

  describe("the evaluated manifests, activated", () => {
    it("installs the README's secrets and template at sops-nix's paths with its bytes, owners and modes", () => {
      const manifest = onTestHost(evaluate("readme").manifest, "sops-manifest.json");
      const result = runAgeboot(["activate", "--manifest", manifest]);
      expect(result.status, result.stderr).toBe(0);
      const secrets = join(host.root, "run/secrets");
      // /run/secrets is a symlink to the generation, /run/secrets.d/1, as sops-nix lays it out.
      expect(readlinkSync(secrets)).toBe(join(host.root, "run/secrets.d/1"));
      const read = (name: string) => readFileSync(join(secrets, name));
      expect(read("example-key")).toEqual(Buffer.from(values["example-key"]));
      expect(read("myservice/my_subdir/my_secret")).toEqual(Buffer.from(values.myservice.my_subdir.my_secret));
      expect(read("example-secret")).toEqual(Buffer.from(values["example-secret"]));
      expect(ownerGroupMode(join(secrets, "example-key"))).toEqual([0, 0, "0400"]);
      expect(ownerGroupMode(join(secrets, "example-secret"))).toEqual([65534, 65534, "0440"]);
      const rendered = join(secrets, "rendered/your-config-with-secrets.toml");
      expect(readFileSync(rendered, "utf8")).toBe(`password = "${values["example-key"]}"\n`);
      expect(ownerGroupMode(rendered)).toEqual([alice.uid, alice.gid, "0400"]);
    });

    it('writes a multi-line value as it is, the whole file for key "", and fails a number with sops-nix\'s reason', () => {
      // A host of its own (the first run there): with no generation current, the secrets that
      // decrypt are installed and the one that fails is reported (docs/activation.md).
      const root = join(host.root, "values-host");
      const manifest = onTestHost(evaluate("values").manifest, "sops-values-manifest.json", root);
      const result = runAgeboot(["activate", "--manifest", manifest]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/port.*myservice\/port.*integer, not a string/);
      const secrets = join(root, "run/secrets");
      expect(readFileSync(join(secrets, "multiline"), "utf8")).toBe(values.multiline);
      // What `sops --decrypt` prints for the YAML: yaml.v3's emitter, 4-space indent, the sops key dropped.
      expect(readFileSync(join(secrets, "whole"), "utf8")).toBe(
        [
          `example-key: example-${CANARY}`,
          `example-secret: secret-${CANARY}`,
          "myservice:",
          "    my_subdir:",
          `        my_secret: nested-${CANARY}`,
          "    port: 8080",
          "multiline: |",
          "    -----BEGIN KEY-----",
          `    ${CANARY}`,
          "    -----END KEY-----",
          "",
        ].join("\n"),
      );
    });

    it.each<[string, number | "all", number[]]>([
      // sops-nix's keepGenerations counts the current generation; 0 never prunes (pkgs/sops-install-secrets/main.go, pruneGenerations).
      ["keep-default", 0, [3]],
      ["keep-0", "all", [1, 2, 3]],
      ["keep-3", 2, [1, 2, 3]],
    ])("%s: sops.keepGenerations as sops-nix prunes (manifest keepGenerations %s), after 3 runs", (configuration, inManifest, left) => {
      const generated = evaluate(configuration).manifest as Manifest & { keepGenerations: unknown };
      expect(generated.keepGenerations).toBe(inManifest);
      const root = join(host.root, `${configuration}-host`);
      const manifest = onTestHost(generated, `sops-${configuration}-manifest.json`, root);
      for (let run = 1; run <= 3; run++) {
        // The same secret each run: a generation is made at every activation, changed or not, as in sops-nix.
        const result = runAgeboot(["activate", "--manifest", manifest]);
        expect(result.status, result.stderr).toBe(0);
      }
      const generations = readdirSync(join(root, "run/secrets.d"))
        .filter((name) => /^[0-9]+$/.test(name))
        .map(Number)
        .sort((a, b) => a - b);
      expect(generations).toEqual(left);
      expect(readlinkSync(join(root, "run/secrets"))).toBe(join(root, "run/secrets.d/3"));
    });

    it("sops.keepGenerations = 3: after 4 runs, the current generation and the 2 before it", () => {
      const root = join(host.root, "keep-3-fourth-host");
      const manifest = onTestHost(evaluate("keep-3").manifest, "sops-keep-3-four-manifest.json", root);
      for (let run = 1; run <= 4; run++) expect(runAgeboot(["activate", "--manifest", manifest]).status).toBe(0);
      expect(
        readdirSync(join(root, "run/secrets.d"))
          .filter((name) => /^[0-9]+$/.test(name))
          .map(Number)
          .sort((a, b) => a - b),
      ).toEqual([2, 3, 4]);
    });

    it("the for-users manifest goes to /run/secrets-for-users, root's", () => {
      const manifest = onTestHost(evaluate("for-users").manifestForUsers, "sops-for-users-manifest.json");
      const result = runAgeboot(["activate", "--manifest", manifest]);
      expect(result.status, result.stderr).toBe(0);
      const installed = join(host.root, "run/secrets-for-users/root-password");
      expect(readFileSync(installed, "utf8")).toBe(values["example-key"]);
      expect(ownerGroupMode(installed)).toEqual([0, 0, "0400"]);
    });

    it("ageboot check (the build-time check) passes for this host's key, and names the recipients for another host", () => {
      const manifest = onTestHost(evaluate("readme").manifest, "sops-check-manifest.json");
      const users = join(host.root, "users.json");
      writeFileSync(users, JSON.stringify({ users: ["root", "nobody", alice.name], groups: ["root", "nogroup", alice.name] }));
      const ok = runAgeboot(["check", "--manifest", manifest, "--host-key", `${host.key}.pub`, "--users", users]);
      expect(ok.status, ok.stderr).toBe(0);
      const other = sshKeygen(host.root, "other_host_key", "ed25519");
      const wrong = runAgeboot(["check", "--manifest", manifest, "--host-key", `${other}.pub`, "--users", users]);
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr).toContain("example-key");
      expect(wrong.stderr).toMatch(
        /not encrypted to this host: the file's age recipients are \[age1[0-9a-z]+\], the host keys are \[ssh-ed25519 \S+ \(.*other_host_key\.pub, age recipient age1/,
      );
      const valuesManifest = onTestHost(evaluate("values").manifest, "sops-values-check-manifest.json");
      const number = runAgeboot(["check", "--manifest", valuesManifest, "--host-key", `${host.key}.pub`, "--users", users]);
      expect(number.status).not.toBe(0);
      expect(number.stderr).toContain('the value of key "myservice/port" is encrypted as int, not a string');
    });
  });
});
