// `ageboot check`: what can be known at build time, without the private key
// or root, with real age files and ssh-keygen keys.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { ageEncrypt, ageKeygen, sshKeygen } from "../helpers/tools.js";

const host = hostPerFile();
const rsaKey = sshKeygen(join(host.root, "etc/ssh"), "ssh_host_rsa_key", "rsa", { bits: 2048 });
const otherKey = sshKeygen(host.root, "other_ed25519", "ed25519");
const [, ageRecipient] = ageKeygen(host.root, "age-identity.txt");
const usersFile = join(host.root, "users.json");
writeFileSync(usersFile, JSON.stringify({ users: ["root", "postgres"], groups: ["root", "keys"] }));

function check(secrets: Record<string, Record<string, unknown>>, ...args: string[]) {
  const manifest = host.writeManifest(secrets as never);
  const result = runAgeboot(["check", "--manifest", manifest, ...args]);
  return { status: result.status, stderr: result.stderr };
}
const hostKeys = ["--host-key", `${host.key}.pub`, "--host-key", `${rsaKey}.pub`];

describe("ageboot check", () => {
  it("passes files encrypted to the host's ed25519 or RSA key, binary or armored, with declared owners", () => {
    const armored = join(host.root, "armored.age");
    writeFileSync(armored, ageEncrypt("x", [["-R", `${host.key}.pub`]], true));
    const result = check(
      {
        ed: { file: host.encrypt("a"), owner: "postgres", group: "keys" },
        rsa: { file: host.encrypt("b", `${rsaKey}.pub`) },
        armored: { file: armored },
        numeric: { file: host.encrypt("c"), owner: 4242 },
      },
      ...hostKeys,
      "--users",
      usersFile,
    );
    expect(result.stderr).toContain("checked 4 secrets: 0 with problems");
    expect(result.status).toBe(0);
  });

  it.each([
    ["a missing file", () => ({ file: join(host.root, "missing.age") }), "does not exist"],
    ["a file that is not an age file", () => ({ file: writeJunk() }), "not a well-formed age file"],
    ["an unknown owner", () => ({ file: host.encrypt("x"), owner: "nobody-declared-this" }), 'owner "nobody-declared-this" is not a user this configuration declares'],
    ["an unknown group", () => ({ file: host.encrypt("x"), group: "wheel" }), 'group "wheel" is not a group this configuration declares'],
    ["a file for another key", () => ({ file: host.encrypt("x", `${otherKey}.pub`) }), "not encrypted to this host: the file is for [ssh-ed25519 "],
  ])("rejects %s, naming the secret and the cause, exit 1", (_, settings, cause) => {
    const result = check({ bad: settings(), good: { file: host.encrypt("fine") } }, ...hostKeys, "--users", usersFile);
    expect(result.stderr).toMatch(new RegExp(`secret bad: .*${cause.replace(/[[\]().]/g, "\\$&")}`));
    expect(result.stderr).not.toMatch(/secret good:/);
    expect(result.stderr).toContain("checked 2 secrets: 1 with problems");
    expect(result.status).toBe(1);
  });

  it("a file only for age1... recipients is reported as unknown, not as a problem", () => {
    const file = join(host.root, "x25519.age");
    writeFileSync(file, ageEncrypt("x", [["-r", ageRecipient]]));
    const result = check({ sops: { file } }, ...hostKeys, "--users", usersFile);
    expect(result.stderr).toMatch(/secret sops: no stanza names a host key; its 1 X25519-style stanza may be for the host/);
    expect(result.status).toBe(0);
  });

  it("without --users, owners are looked up on this machine; without --host-key, recipients are not checked", () => {
    const result = check({ a: { file: host.encrypt("x"), owner: "root" }, b: { file: host.encrypt("x"), owner: "no-such-user-here" } });
    expect(result.stderr).toContain('secret b: owner "no-such-user-here" does not exist');
    expect(result.stderr).toContain("no --host-key: not checking who they are encrypted to");
    expect(result.status).toBe(1);
  });

  it("an invalid manifest exits 4, a bad --host-key or --users exits 2", () => {
    const manifest = join(host.root, "broken.json");
    writeFileSync(manifest, JSON.stringify({ version: 2 }));
    expect(runAgeboot(["check", "--manifest", manifest]).status).toBe(4);
    const good = host.writeManifest({ a: { file: host.encrypt("x") } });
    expect(runAgeboot(["check", "--manifest", good, "--host-key", join(host.root, "missing.pub")]).status).toBe(2);
    expect(runAgeboot(["check", "--manifest", good, "--host-key", `${host.key}`]).status).toBe(2); // a private key is not a public key file
    writeFileSync(`${usersFile}.bad`, JSON.stringify({ users: "root" }));
    expect(runAgeboot(["check", "--manifest", good, "--users", `${usersFile}.bad`]).status).toBe(2);
  });
});

function writeJunk(): string {
  const path = join(host.root, `junk-${Math.random()}.age`);
  writeFileSync(path, "this is not an age file\n");
  return path;
}
