import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { sshKeygen } from "../helpers/tools.js";
import { whileUserExists } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const { alice, bob } = TEST_USERS;
const newHost = hostPerTest();

function ownerGroupMode(path: string): [number, number, string] {
  const info = lstatSync(path);
  return [info.uid, info.gid, (info.mode & 0o7777).toString(8).padStart(4, "0")];
}

/** The placeholder of a secret, as the CLI prints it (ageboot placeholder NAME). */
function placeholder(name: string): string {
  const result = runAgeboot(["placeholder", name]);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}

/** A secret's value as a template holds it: the value and the canary every test secret carries. */
const held = (value: string) => `${value}\n${CANARY}`;

describe("templates through the CLI", () => {
  it("renders two secrets into rendered/<name> with the template's owner, group and mode, and its custom paths", () => {
    const host = newHost();
    const appDir = join(host.root, "etc/app");
    mkdirSync(appDir, { recursive: true });
    const text = `DB=${placeholder("db")}\nAPI=${placeholder("api")}\n`;
    host.writeManifest(
      { db: { file: host.encrypt("db-1"), owner: bob.name }, api: { file: host.encrypt("api-1") } },
      {
        templates: {
          "app.env": { content: text, owner: alice.name, group: TEST_GROUPS.shared.name, mode: "0440" },
          "linked.env": { content: text, owner: alice.name, path: join(appDir, "linked.env") },
          "copied.env": { content: text, owner: alice.name, mode: "0400", path: join(appDir, "copied.env"), symlink: false },
        },
      },
    );
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("generation 1 is current: 2 added, 0 changed, 0 removed, 0 unchanged, 0 failed; templates: 3 added");

    const rendered = join(host.secretsDir, "rendered/app.env");
    expect(readFileSync(rendered, "utf8")).toBe(`DB=${held("db-1")}\nAPI=${held("api-1")}\n`);
    expect(ownerGroupMode(rendered)).toEqual([alice.uid, TEST_GROUPS.shared.gid, "0440"]);
    expect(ownerGroupMode(join(host.mountPoint, "1/rendered"))).toEqual([0, TEST_GROUPS.keys.gid, "0751"]);
    // The secret keeps its own owner: the template holds a copy of its bytes, not the file.
    expect(ownerGroupMode(join(host.secretsDir, "db"))).toEqual([bob.uid, bob.gid, "0400"]);

    expect(readlinkSync(join(appDir, "linked.env"))).toBe(join(host.secretsDir, "rendered/linked.env"));
    expect(readFileSync(join(appDir, "linked.env"), "utf8")).toBe(readFileSync(rendered, "utf8"));
    expect(ownerGroupMode(join(appDir, "copied.env"))).toEqual([alice.uid, alice.gid, "0400"]);
    expect(readFileSync(join(appDir, "copied.env"), "utf8")).toBe(readFileSync(rendered, "utf8"));
  });

  it("rotating one secret changes the templates that name it, and only those", () => {
    const host = newHost();
    const api = { file: host.encrypt("api-1") };
    const templates = { "uses-db": { content: `x=${placeholder("db")}` }, "uses-api": { content: `y=${placeholder("api")}` } };
    host.writeManifest({ db: { file: host.encrypt("db-1") }, api }, { templates });
    expect(host.activate().status).toBe(0);
    host.writeManifest({ db: { file: host.encrypt("db-2") }, api }, { templates });
    const rotated = host.activate();
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stderr).toContain("generation 2 is current: 0 added, 1 changed, 0 removed, 1 unchanged, 0 failed; templates: 1 changed, 1 unchanged");
    expect(rotated.stderr).toMatch(/templatesChanged.*uses-db/);
    expect(readFileSync(join(host.secretsDir, "rendered/uses-db"), "utf8")).toBe(`x=${held("db-2")}`);
  });

  it("a template whose secret fails fails too, naming both; the previous generation stays", () => {
    const host = newHost();
    const templates = { "app.env": { content: `DB=${placeholder("db")}` } };
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates });
    expect(host.activate().status).toBe(0);
    const otherKey = sshKeygen(join(host.root, "etc/ssh"), "other_key", "ed25519");
    host.writeManifest({ db: { file: host.encrypt("db-2", `${otherKey}.pub`) } }, { templates });
    const failed = host.activate();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/secret db: .*not encrypted to any identity|secret db: /);
    expect(failed.stderr).toMatch(/template app\.env: secret "db" failed: /);
    expect(failed.stderr).toContain("nothing changed, generation 1 stays current; the new generation was discarded");
    expect(readlinkSync(host.secretsDir)).toBe(join(host.mountPoint, "1"));
    expect(readFileSync(join(host.secretsDir, "rendered/app.env"), "utf8")).toBe(`DB=${held("db-1")}`);
  });

  it("reads a template file that only root could have written, and refuses one its owner could", () => {
    const host = newHost();
    const rootFile = join(host.root, "app.env.tmpl");
    writeFileSync(rootFile, `DB=${placeholder("db")}\n`, { mode: 0o644 });
    const aliceDir = join(host.root, "home/alice");
    mkdirSync(aliceDir, { recursive: true });
    chownSync(aliceDir, alice.uid, alice.gid);
    const aliceFile = join(aliceDir, "mine.tmpl");
    writeFileSync(aliceFile, `stolen=${placeholder("db")}\n`);
    chownSync(aliceFile, alice.uid, alice.gid);
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates: { app: { file: rootFile }, mine: { file: aliceFile, owner: alice.name } } });
    const result = host.activate();
    // First run: what can be installed is, and the refused template is named.
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`template mine: file ${aliceFile}: .*writable by users other than root.*refusing to render it`));
    expect(readFileSync(join(host.secretsDir, "rendered/app"), "utf8")).toBe(`DB=${held("db-1")}\n`);
  });

  it("an unknown placeholder in inline content is a manifest error that names the template, before anything is touched", () => {
    const host = newHost();
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates: { t: { content: `x=${placeholder("dbb")}` } } });
    const result = host.activate();
    expect(result.status).toBe(4);
    expect(result.stderr).toContain(`template "t" field "content": ${placeholder("dbb")} names no secret this manifest declares`);
    expect(() => lstatSync(host.mountPoint)).toThrow(/ENOENT/);
  });

  it("ageboot check names a template file's unknown placeholder and a template's unknown owner", () => {
    const host = newHost();
    const file = join(host.root, "t.tmpl");
    writeFileSync(file, `a=${placeholder("nope")}`);
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates: { t: { file }, u: { content: "x", owner: "agetest-nobody" } } });
    const result = runAgeboot(["check", "--manifest", host.manifestPath]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`template t: file ${file}: ${placeholder("nope")} names no secret this manifest declares`);
    expect(result.stderr).toContain('template u: owner "agetest-nobody" does not exist');
    expect(result.stderr).toContain("checked 1 secret and 2 templates");
  });

  it("a template whose owner does not exist yet is root's 0400 until ageboot chown gives it its owner", () => {
    const host = newHost();
    const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates: { t: { content: placeholder("db"), owner: carol.name, mode: "0440" } } });
    const deferred = runAgeboot(["activate", "--manifest", host.manifestPath, "--defer-unknown-owners"]);
    expect(deferred.status, deferred.stderr).toBe(0);
    expect(deferred.stderr).toMatch(/template t: owner "agetest-carol" .*deferred until ageboot chown/);
    const rendered = join(host.secretsDir, "rendered/t");
    expect(ownerGroupMode(rendered)).toEqual([0, 0, "0400"]);

    const chown = whileUserExists(host.root, carol, () => runAgeboot(["chown", "--manifest", host.manifestPath]));
    expect(chown.status, chown.stderr).toBe(0);
    expect(ownerGroupMode(rendered)).toEqual([carol.uid, carol.gid, "0440"]);
  });

  it("a dry run says what templates would change and touches nothing", () => {
    const host = newHost();
    const templates = { t: { content: placeholder("db") } };
    host.writeManifest({ db: { file: host.encrypt("db-1") } }, { templates });
    expect(host.activate().status).toBe(0);
    host.writeManifest({ db: { file: host.encrypt("db-2") } }, { templates });
    const dry = host.activate("--dry-run");
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stderr).toContain("dry run: would install 0 added, 1 changed, 0 removed, 0 unchanged, 0 failed; templates: 1 changed; current generation 1");
    expect(readFileSync(join(host.secretsDir, "rendered/t"), "utf8")).toBe(held("db-1"));
  });
});
