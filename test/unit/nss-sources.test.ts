// When a getent(1) child can be saved (src/nss-sources.ts): only when the
// host's nsswitch.conf leaves NSS nothing beyond /etc/passwd and /etc/group.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nssMayKnowMore } from "../../src/nss-sources.js";

const root = mkdtempSync(join(tmpdir(), "ageboot-nss-sources-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let serial = 0;
/** A host with this nsswitch.conf (null: none) and these userdb places (those given exist, with the entries given). */
function host(nsswitch: string | null, userdb: Record<string, string[]> = {}) {
  const dir = join(root, String(serial++));
  mkdirSync(dir);
  const nsswitchPath = join(dir, "nsswitch.conf");
  if (nsswitch !== null) writeFileSync(nsswitchPath, nsswitch);
  const places = ["run-systemd-userdb", "etc-userdb"].map((name) => join(dir, name));
  for (const [name, entries] of Object.entries(userdb)) {
    mkdirSync(join(dir, name));
    for (const entry of entries) writeFileSync(join(dir, name, entry), "");
  }
  return { nsswitch: nsswitchPath, systemdUserdb: places };
}

describe("whether NSS could know a user or group the files lack", () => {
  it("files only: no", () => {
    const places = host("passwd: files\ngroup:          files  # local only\n");
    expect(nssMayKnowMore("group", "keys", places)).toBe(false);
    expect(nssMayKnowMore("passwd", "ghost", places)).toBe(false);
  });

  it("files and systemd, with no userdb record or service: no, but yes for the root and nobody nss-systemd makes up", () => {
    const places = host("passwd: files systemd\ngroup: files [SUCCESS=merge] systemd\n", { "etc-userdb": [] });
    expect(nssMayKnowMore("group", "keys", places)).toBe(false);
    expect(nssMayKnowMore("group", "nobody", places)).toBe(true);
    expect(nssMayKnowMore("passwd", "root", places)).toBe(true);
  });

  it("files and systemd, with a userdb service or drop-in record: yes", () => {
    expect(nssMayKnowMore("group", "keys", host("group: files systemd\n", { "run-systemd-userdb": ["io.systemd.DynamicUser"] }))).toBe(true);
    expect(nssMayKnowMore("group", "keys", host("group: files systemd\n", { "etc-userdb": ["keys.group"] }))).toBe(true);
  });

  it("any other source: yes", () => {
    for (const source of ["ldap", "sss", "compat", "winbind", "mymachines", "nis"]) {
      expect(nssMayKnowMore("group", "keys", host(`group: files ${source}\n`)), source).toBe(true);
    }
  });

  it("anything unexpected: yes (no file, no line, two lines, an unclosed bracket)", () => {
    expect(nssMayKnowMore("group", "keys", host(null))).toBe(true);
    expect(nssMayKnowMore("group", "keys", host("passwd: files\n"))).toBe(true);
    expect(nssMayKnowMore("group", "keys", host("group: files\ngroup: files ldap\n"))).toBe(true);
    expect(nssMayKnowMore("group", "keys", host("group: files [NOTFOUND=return\n"))).toBe(true);
    expect(nssMayKnowMore("group", "keys", host("group:\n"))).toBe(true);
  });

  it("reads the database's own line: a commented-out source is not one", () => {
    const places = host("#group: files ldap\ngroup: files\ngroupx: ldap\npasswd: files ldap\n");
    expect(nssMayKnowMore("group", "keys", places)).toBe(false);
    expect(nssMayKnowMore("passwd", "ghost", places)).toBe(true);
  });
});
