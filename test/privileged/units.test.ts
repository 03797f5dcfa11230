// restartUnits and reloadUnits: which units a run asks to restart and reload,
// through the lists NixOS's switch-to-configuration reads (a tmpfs on
// /run/nixos in the test's private mount namespace stands in for the host's),
// and what happens where systemd is not running. Real restarts under a booted
// systemd are in test/system/boot.test.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";

const LISTS = "/run/nixos";
let createdLists = false;
let mounted = false;
beforeAll(() => {
  requirePrivateNamespace();
  // The directory is made on the host's /run if missing (empty, as NixOS has it); the tmpfs on it is this namespace's alone.
  if (!existsSync(LISTS)) {
    mkdirSync(LISTS, { mode: 0o755 });
    createdLists = true;
  }
  execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0755", "tmpfs", LISTS]);
  mounted = true;
});
afterAll(() => {
  if (mounted) execFileSync("umount", [LISTS]);
  if (createdLists) execFileSync("rmdir", [LISTS]);
});

const newHost = hostPerTest();
const { alice } = TEST_USERS;

function list(name: string): string[] {
  const path = `${LISTS}/${name}`;
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}
function clearLists(): void {
  for (const name of ["activation-restart-list", "activation-reload-list", "dry-activation-restart-list", "dry-activation-reload-list"]) writeFileSync(`${LISTS}/${name}`, "");
}

describe("restartUnits and reloadUnits", () => {
  it("asks switch-to-configuration to restart and reload exactly the units of what changed, each once", () => {
    const host = newHost();
    const declare = (rotated: boolean, withRemoved: boolean) =>
      host.writeManifest({
        rotated: { file: host.encrypt(rotated ? "rotated-2" : "rotated-1"), restartUnits: ["app", "shared.service"] },
        rechowned: { file: host.encrypt("owner-value"), owner: rotated ? alice.name : "root", reloadUnits: ["proxy.service", "shared.service"] },
        same: { file: host.encrypt("same-value"), restartUnits: ["quiet.service"], reloadUnits: ["quiet-reload.service"] },
        ...(withRemoved ? { leaving: { file: host.encrypt("leaving-value"), restartUnits: ["gone-consumer.service"] } } : {}),
      });
    clearLists();
    declare(false, true);
    const boot = host.activateWith({ env: { NIXOS_ACTION: "switch" } }, "--units-via", "nixos-activation");
    expect(boot.status).toBe(0);
    // The first run after boot restarts nothing: no service has read a secret yet.
    expect(list("activation-restart-list")).toEqual([]);
    expect(list("activation-reload-list")).toEqual([]);

    declare(true, false);
    const dry = host.activateWith({ env: { NIXOS_ACTION: "dry-activate" } }, "--units-via", "nixos-activation", "--dry-run");
    expect(dry.status).toBe(0);
    expect(dry.stderr).toContain("would restart app.service, gone-consumer.service, shared.service");
    expect(dry.stderr).toContain("would reload proxy.service");
    expect(list("dry-activation-restart-list")).toEqual(["app.service", "gone-consumer.service", "shared.service"]);
    expect(list("dry-activation-reload-list")).toEqual(["proxy.service"]);
    expect(list("activation-restart-list")).toEqual([]);

    const switched = host.activateWith({ env: { NIXOS_ACTION: "switch" } }, "--units-via", "nixos-activation");
    expect(switched.status).toBe(0);
    // rotated: content; rechowned: owner; leaving: removed (its units come from the previous generation's record).
    // shared.service is restarted, so not also reloaded; same's units are left alone.
    expect(list("activation-restart-list")).toEqual(["app.service", "gone-consumer.service", "shared.service"]);
    expect(list("activation-reload-list")).toEqual(["proxy.service"]);
    expect(switched.stderr).toContain("restart requested through switch-to-configuration: app.service, gone-consumer.service, shared.service");

    clearLists();
    const again = host.activateWith({ env: { NIXOS_ACTION: "switch" } }, "--units-via", "nixos-activation");
    expect(again.status).toBe(0);
    expect(list("activation-restart-list")).toEqual([]);
    expect(list("activation-reload-list")).toEqual([]);
  });

  it("a secret that fails restarts nothing, and its unit keeps reading the previous value", () => {
    const host = newHost();
    host.writeManifest({ db: { file: host.encrypt("db-1"), restartUnits: ["db.service"] } });
    expect(host.activate().status).toBe(0);
    clearLists();
    host.writeManifest({ db: { file: `${host.root}/missing.age`, restartUnits: ["db.service"] } });
    const failed = host.activateWith({ env: { NIXOS_ACTION: "switch" } }, "--units-via", "nixos-activation");
    expect(failed.status).not.toBe(0);
    expect(list("activation-restart-list")).toEqual([]);
    expect(host.read("db")).toBe("db-1");
  });

  it("without a running systemd, says which units were not restarted and still installs", () => {
    const host = newHost();
    host.writeManifest({ db: { file: host.encrypt("db-1"), restartUnits: ["db.service"] } });
    expect(host.activate().status).toBe(0);
    host.writeManifest({ db: { file: host.encrypt("db-2"), restartUnits: ["db.service"] } });
    // This test machine has no systemd as PID 1 (no /run/systemd/system); the nspawn boot test has one.
    const result = existsSync("/run/systemd/system") ? null : host.activate();
    if (result === null) return;
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("systemd is not running here; not restarted or reloaded: db.service");
    expect(host.read("db")).toBe("db-2");
  });

  it("--units-via none only reports", () => {
    const host = newHost();
    host.writeManifest({ db: { file: host.encrypt("db-1"), restartUnits: ["db.service"] } });
    expect(host.activate().status).toBe(0);
    clearLists();
    host.writeManifest({ db: { file: host.encrypt("db-2"), restartUnits: ["db.service"] } });
    const result = host.activateWith({ env: { NIXOS_ACTION: "switch" } }, "--units-via", "none");
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("not asked to restart (--units-via none, or see the warnings above): db.service");
    expect(list("activation-restart-list")).toEqual([]);
    const bad = host.activateWith({}, "--units-via", "dbus");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("--units-via takes one of systemctl, systemctl-user, nixos-activation, none");
  });
});
