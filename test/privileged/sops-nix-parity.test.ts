// Two of sops-nix's behaviours ageboot now shares (issue 21, Why 14), tried
// through the CLI: a custom path's symlink belongs to the secret's (or
// template's) owner and group, as sops-nix's SecureSymlinkChown makes it
// (pkgs/sops-install-secrets/linux.go: O_PATH descriptor, fchownat
// AT_EMPTY_PATH), also once `ageboot chown` gives a deferred owner; and a
// template file with sops-nix's own <SOPS:sha256(name):PLACEHOLDER> typed in
// renders like one with ageboot's placeholder.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { whileUserExists } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const newHost = hostPerTest();
const ownerAndGroup = (path: string) => {
  const info = lstatSync(path);
  return [info.uid, info.gid];
};
/** sops-nix's placeholder, computed as its module does: "<SOPS:" + hashString "sha256" name + ":PLACEHOLDER>". */
const sopsPlaceholder = (name: string) => `<SOPS:${createHash("sha256").update(name).digest("hex")}:PLACEHOLDER>`;

describe("as sops-nix does", () => {
  it("a custom path's symlink is its secret's or template's owner and group, never following it", () => {
    const host = newHost();
    const appDir = join(host.root, "etc/app");
    mkdirSync(appDir, { recursive: true });
    host.writeManifest(
      {
        token: { file: host.encrypt("t"), owner: alice.name, group: TEST_GROUPS.shared.name, mode: "0440", path: join(appDir, "token") },
        rootish: { file: host.encrypt("r"), path: join(appDir, "rootish") },
      },
      { templates: { "app.env": { content: `T=${sopsPlaceholder("token")}\n`, owner: alice.name, path: join(appDir, "app.env") } } },
    );
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(readlinkSync(join(appDir, "token"))).toBe(join(host.secretsDir, "token"));
    expect(ownerAndGroup(join(appDir, "token"))).toEqual([alice.uid, TEST_GROUPS.shared.gid]);
    expect(ownerAndGroup(join(appDir, "app.env"))).toEqual([alice.uid, alice.gid]);
    expect(ownerAndGroup(join(appDir, "rootish"))).toEqual([0, 0]);
    // The symlink's target is untouched: the secret keeps its own owner and group.
    expect(ownerAndGroup(join(host.secretsDir, "token"))).toEqual([alice.uid, TEST_GROUPS.shared.gid]);
    expect(ownerAndGroup(host.mountPoint)[0]).toBe(0);
  });

  it("a deferred owner's symlink is root's until ageboot chown, then the owner's", () => {
    const host = newHost();
    const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };
    const link = join(host.root, "etc/app/token");
    host.writeManifest({ token: { file: host.encrypt("t"), owner: carol.name, path: link } });
    const deferred = runAgeboot(["activate", "--manifest", host.manifestPath, "--defer-unknown-owners"]);
    expect(deferred.status, deferred.stderr).toBe(0);
    expect(ownerAndGroup(link)).toEqual([0, 0]);
    const chown = whileUserExists(host.root, carol, () => runAgeboot(["chown", "--manifest", host.manifestPath]));
    expect(chown.status, chown.stderr).toBe(0);
    expect(ownerAndGroup(link)).toEqual([carol.uid, carol.gid]);
    expect(readlinkSync(link)).toBe(join(host.secretsDir, "token"));
  });

  it("a template file with sops-nix's placeholders typed in renders like ageboot's own", () => {
    const host = newHost();
    const file = join(host.root, "app.tmpl");
    writeFileSync(file, `DB=${sopsPlaceholder("db")}\nAPI=${sopsPlaceholder("api")}\n`, { mode: 0o644 });
    host.writeManifest({ db: { file: host.encrypt("db-1") }, api: { file: host.encrypt("api-1") } }, { templates: { "app.env": { file } } });
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(join(host.secretsDir, "rendered/app.env"), "utf8")).toBe(`DB=db-1\n${CANARY}\nAPI=api-1\n${CANARY}\n`);
  });
});
