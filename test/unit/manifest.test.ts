// Manifest v1 validation: pure, no root. Every problem names the secret and field.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AgebootError } from "../../src/errors.js";
import { loadManifest } from "../../src/manifest/load.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function problemsOf(manifest: unknown): string[] {
  const result = validateManifest(manifest);
  return "problems" in result ? result.problems : [];
}

const minimal = { version: 1, secrets: { "db-password": { file: "/nix/store/x-db-password.age" } } };

describe("manifest validation", () => {
  it("applies agenix's defaults", () => {
    const result = validateManifest(minimal);
    expect(result).toEqual({
      manifest: {
        version: 1,
        secretsDir: "/run/agenix",
        secretsMountPoint: "/run/agenix.d",
        identityPaths: ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"],
        keepGenerations: 1,
        secrets: [
          {
            name: "db-password",
            format: "age",
            file: "/nix/store/x-db-password.age",
            path: "/run/agenix/db-password",
            owner: "root",
            group: undefined,
            mode: 0o400,
            symlink: true,
            restartUnits: [],
            reloadUnits: [],
          },
        ],
        templates: [],
      },
    });
  });

  it("takes systemd unit names as systemctl does, and refuses what no unit can be named", () => {
    const units = (restartUnits: unknown) => validateManifest({ version: 1, secrets: { db: { file: "/s/db.age", restartUnits } } });
    const accepted = units(["nginx", "nginx.service", "getty@tty1.service", "backup.timer", "a.b"]);
    expect("manifest" in accepted && accepted.manifest.secrets[0]!.restartUnits).toEqual(["nginx.service", "getty@tty1.service", "backup.timer", "a.b.service"]);
    for (const [bad, why] of [
      [["getty@.service"], "is a template: name an instance"],
      [["x y.service"], "is not a systemd unit name"],
      [["../etc.service"], "is not a systemd unit name"],
      [[`${"a".repeat(250)}.service`], "longer than 255"],
      ["nginx.service", "must be a list"],
      [[1], "must be a list"],
    ] as const) {
      const result = units(bad);
      expect("problems" in result && result.problems.join("\n")).toContain(why);
      expect("problems" in result && result.problems[0]).toMatch(/^secret "db" field "restartUnits": /);
    }
    const reload = validateManifest({ version: 1, secrets: { db: { file: "/s/db.age", reloadUnits: ["x\u202e.service"] } } });
    expect("problems" in reload && reload.problems[0]).toBe(
      'secret "db" field "reloadUnits": "x\\u202e.service" is not a systemd unit name (letters, digits and ":_.\\-", one "@" before an instance)',
    );
  });

  it('takes "format" per secret: "age" is the default, sops stores by name; anything else names the secret', () => {
    const explicit = validateManifest({ version: 1, secrets: { a: { file: "/a.age", format: "age" } } });
    expect("manifest" in explicit && explicit.manifest.secrets[0]?.format).toBe("age");
    const unknown = validateManifest({ version: 1, secrets: { a: { file: "/a.age", format: "sops" } } });
    expect(unknown).toEqual({ problems: ['secret "a" field "format": must be one of "age", "yaml", "json", "dotenv", "ini", "binary", found "sops"'] });
  });

  it('gives sops secrets a "key" that defaults to the secret\'s name, as sops-nix does; age secrets have none', () => {
    const result = validateManifest({
      version: 1,
      secrets: {
        "db/password": { file: "/s.yaml", format: "yaml" },
        whole: { file: "/s.yaml", format: "yaml", key: "" },
        nested: { file: "/s.json", format: "json", key: "a/b/c" },
        plain: { file: "/a.age" },
      },
    });
    expect("manifest" in result && result.manifest.secrets.map((secret) => secret.key)).toEqual(["db/password", "", "a/b/c", undefined]);
    expect(validateManifest({ version: 1, secrets: { a: { file: "/a.age", key: "x" } } })).toEqual({
      problems: ['secret "a" field "key": only sops formats (yaml, json, dotenv, ini, binary) have a "key"; an age file is the secret as a whole'],
    });
    expect(validateManifest({ version: 1, secrets: { a: { file: "/a.yaml", format: "yaml", key: 3 } } })).toEqual({
      problems: ['secret "a" field "key": must be a string: a "/"-separated path such as "db/password", or "" for the whole file'],
    });
  });

  it.each([
    ["0400", 0o400],
    ["440", 0o440],
    ["0440", 0o440],
    ["4", 0o004],
    ["u=r,g=r,o=", 0o440],
    ["u=r,g=,o=", 0o400],
    ["a+r", 0o444],
    ["u+w", 0o600],
    ["ug=rw,o-rwx", 0o660],
    ["go=u", 0o444],
    ["a+X", 0o400],
    ["u+x,a+X", 0o511],
    ["a=", 0o000],
  ])('takes the chmod mode "%s" as %o, applied to 0400 as agenix does', (mode, octal) => {
    const result = validateManifest({ version: 1, secrets: { a: { file: "/a.age", mode } } });
    expect("manifest" in result && result.manifest.secrets[0]?.mode).toBe(octal);
  });

  it("accepts every documented field", () => {
    const result = validateManifest({
      version: 1,
      secretsDir: "/run/s",
      secretsMountPoint: "/run/s.d",
      identityPaths: ["/persist/etc/ssh/ssh_host_ed25519_key"],
      keepGenerations: 3,
      secrets: { "dir/a": { file: "/f.age", path: "/etc/a", owner: 1000, group: "wheel", mode: "640", symlink: false } },
    });
    expect("manifest" in result && result.manifest.secrets[0]).toMatchObject({ name: "dir/a", owner: "1000", group: "wheel", mode: 0o640, symlink: false, path: "/etc/a" });
  });

  it('takes keepGenerations as a count of previous generations, or "all" for never prune', () => {
    for (const keepGenerations of [0, 2, "all"] as const) {
      const result = validateManifest({ ...minimal, keepGenerations });
      expect("manifest" in result && result.manifest.keepGenerations).toBe(keepGenerations);
    }
  });

  it.each<[string, unknown, string]>([
    ["a missing version", { secrets: {} }, "version: must be 1, found nothing"],
    ["another version", { version: 2 }, "version: must be 1, found 2"],
    ["an unknown top-level field", { ...minimal, secretDir: "/x" }, 'field "secretDir": unknown field'],
    ["a relative secretsDir", { ...minimal, secretsDir: "run/agenix" }, 'secretsDir: must be an absolute path, found "run/agenix"'],
    ["a secretsDir with ..", { ...minimal, secretsDir: "/run/../agenix" }, "secretsDir: must be a normalized path"],
    ["a secretsDir inside the mount point", { ...minimal, secretsDir: "/run/agenix.d/x" }, "secretsDir: must not be, contain or be inside secretsMountPoint"],
    ["identityPaths that are not a list", { ...minimal, identityPaths: "/etc/ssh/key" }, "identityPaths: must be a list of absolute paths"],
    ["a relative identity path", { ...minimal, identityPaths: ["key"] }, 'identityPaths[0]: must be an absolute path, found "key"'],
    [
      "a negative keepGenerations",
      { ...minimal, keepGenerations: -1 },
      'keepGenerations: must be a whole number >= 0 (previous generations kept) or "all" (never prune), found -1',
    ],
    [
      "a fractional keepGenerations",
      { ...minimal, keepGenerations: 1.5 },
      'keepGenerations: must be a whole number >= 0 (previous generations kept) or "all" (never prune), found 1.5',
    ],
    [
      "a keepGenerations string other than all",
      { ...minimal, keepGenerations: "ALL" },
      'keepGenerations: must be a whole number >= 0 (previous generations kept) or "all" (never prune), found "ALL"',
    ],
    ["keepGenerations as a numeric string", { ...minimal, keepGenerations: "1" }, 'or "all" (never prune), found "1"'],
    ["secrets that are a list", { version: 1, secrets: [] }, "secrets: must be a mapping"],
  ])("rejects %s", (_, manifest, expected) => {
    expect(problemsOf(manifest).join("\n")).toContain(expected);
  });

  const secret = (name: string, settings: unknown) => ({ version: 1, secrets: { [name]: settings } });
  it.each<[string, unknown, string]>([
    ["an empty name", secret("", { file: "/f" }), 'secret "": invalid name: empty'],
    ["an absolute name", secret("/etc/x", { file: "/f" }), 'secret "/etc/x": invalid name: absolute'],
    ["a name with ..", secret("../x", { file: "/f" }), 'secret "../x": invalid name: contains ".."'],
    ["a name with .. inside", secret("a/../../x", { file: "/f" }), 'invalid name: contains ".."'],
    ["a name with NUL", secret("a\0b", { file: "/f" }), 'secret "a\\u0000b": invalid name: contains a control character'],
    ["a name with a newline", secret("a\nb", { file: "/f" }), 'secret "a\\nb": invalid name: contains a control character'],
    ["a name with an empty segment", secret("a//b", { file: "/f" }), "invalid name: contains an empty"],
    ["a name with a trailing slash", secret("a/", { file: "/f" }), "invalid name: contains an empty"],
    ["settings that are not a mapping", secret("a", "/f.age"), 'secret "a": settings must be a mapping'],
    ["a missing file", secret("a", {}), 'secret "a" field "file": is required'],
    ["a relative file", secret("a", { file: "secrets/a.age" }), 'secret "a" field "file": must be an absolute path'],
    ["an unknown field", secret("a", { file: "/f", onwer: "root" }), 'secret "a" field "onwer": unknown field'],
    ["agenix's name field", secret("a", { file: "/f", name: "b" }), 'secret "a" field "name": unknown field'],
    ["a numeric mode", secret("a", { file: "/f", mode: 400 }), 'secret "a" field "mode": must be an octal permission string'],
    ["a non-octal mode", secret("a", { file: "/f", mode: "0800" }), 'field "mode": must be an octal permission string such as "0400"'],
    [
      "a symbolic mode without who it is for",
      secret("a", { file: "/f", mode: "+r" }),
      'field "mode": must be an octal permission string such as "0400" or a symbolic mode such as "u=r,g=r,o="',
    ],
    ["a symbolic setgid mode", secret("a", { file: "/f", mode: "g+s" }), "no setuid"],
    ["a setuid mode", secret("a", { file: "/f", mode: "4755" }), "no setuid"],
    ["a relative path", secret("a", { file: "/f", path: "etc/a" }), 'secret "a" field "path": must be an absolute path'],
    ["a custom path inside secretsDir", secret("a", { file: "/f", path: "/run/agenix/b" }), 'field "path": a custom path must not be inside secretsDir'],
    ["a custom path inside the mount point", secret("a", { file: "/f", path: "/run/agenix.d/1/a" }), 'field "path": must not be inside secretsMountPoint'],
    ["an owner with a space", secret("a", { file: "/f", owner: "bad user" }), 'secret "a" field "owner": must be a user or group name'],
    ["a negative owner id", secret("a", { file: "/f", owner: -1 }), 'field "owner": must be a user or group name or a numeric id'],
    ["a group that is a list", secret("a", { file: "/f", group: ["wheel"] }), 'field "group": must be a user or group name or a numeric id, found a list'],
    ["a symlink that is a string", secret("a", { file: "/f", symlink: "yes" }), 'field "symlink": must be true or false'],
  ])("rejects a secret with %s", (_, manifest, expected) => {
    expect(problemsOf(manifest).join("\n")).toContain(expected);
  });

  it("rejects two secrets with one target path", () => {
    const problems = problemsOf({ version: 1, secrets: { a: { file: "/f", path: "/etc/x" }, b: { file: "/f", path: "/etc/x" } } });
    expect(problems).toEqual(['secret "b" field "path": /etc/x is also the path of secret "a"']);
  });

  it("rejects a name that is also the directory of another", () => {
    expect(problemsOf({ version: 1, secrets: { a: { file: "/f" }, "a/b": { file: "/f" } } })).toEqual(['secret "a/b": its directory "a" is also the name of a secret']);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({ version: 1, extra: 1, secrets: { "../a": { file: "f" }, b: { mode: 1 } } });
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });
});

describe("manifest files", () => {
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("reads JSON and YAML alike", async () => {
    const json = await loadManifest(write("m.json", JSON.stringify(minimal)));
    const yaml = await loadManifest(write("m.yaml", "version: 1\nsecrets:\n  db-password:\n    file: /nix/store/x-db-password.age\n"));
    expect(yaml).toEqual(json);
  });

  it.each<[string, string, string]>([
    ["duplicate keys in YAML", "version: 1\nversion: 1\n", "not valid JSON or YAML"],
    ["duplicate keys in JSON", '{"version": 1, "version": 1}', "not valid JSON or YAML"],
    [
      "a YAML alias bomb",
      `version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 9 },
        (_, i) =>
          `${"b".repeat(i + 1)}: &${"b".repeat(i + 1)} [${Array(9)
            .fill(i === 0 ? "*a" : `*${"b".repeat(i)}`)
            .join(", ")}]`,
      ).join("\n")}\n`,
      "not valid JSON or YAML",
    ],
    ["a syntax error", "version: [1\n", "not valid JSON or YAML"],
    ["a scalar document", "42\n", "manifest: must be a mapping"],
  ])("rejects %s", async (_, text, expected) => {
    const path = write(`bad-${Math.random()}.yaml`, text);
    const error = await loadManifest(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AgebootError);
    expect((error as AgebootError).code).toBe("MANIFEST");
    expect((error as AgebootError).message).toContain(path);
    expect((error as AgebootError).message).toContain(expected);
  });

  it("names a missing manifest", async () => {
    await expect(loadManifest(join(dir, "absent.json"))).rejects.toMatchObject({ code: "MANIFEST", message: expect.stringContaining("absent.json: cannot read manifest") });
  });
});
