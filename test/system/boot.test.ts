// The unit booted under a real systemd: systemd-nspawn --boot on a Debian root
// made by debootstrap (test/system/make-root.sh, cached), with the host key in a
// separate directory that plays /persist, the unit installed as a user of the
// package would install it, a consumer service (an unprivileged user, no
// ordering of its own) that reads its secret at boot, and a checker unit that
// writes what it sees to a bound directory and powers off.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { placeholderFor } from "../../src/templates/placeholder.js";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { BootRoot } from "../helpers/nspawn-boot.js";
import { repoRoot } from "../helpers/paths.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const makeBootRoot = BootRoot.perFile("ageboot-boot");

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const appConf = (token: string, shared: string) => `token=${token}\nshared=${shared}\n`;

it("secrets are in place, owned and moded, before services start; restart and failure behave", () => {
  const bootRoot = makeBootRoot();
  const { root, results } = bootRoot;
  const put = bootRoot.put.bind(bootRoot);
  const persist = join(bootRoot.work, "persist");
  mkdirSync(join(persist, "etc/ssh"), { recursive: true });
  const hostKey = sshKeygen(join(persist, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");

  // Users as the distribution would have them.
  execFileSync("chroot", [root, "groupadd", "-g", "4200", "shared"]);
  execFileSync("chroot", [root, "useradd", "-u", "4101", "-U", "-M", "-s", "/usr/sbin/nologin", "alice"]);

  // The package: dist/ (launcher, bundle, code cache) and the node that built it, both bound in
  // at boot; /usr/bin/ageboot links to the launcher, as an install would. The unit, installed and enabled.
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  symlinkSync("/usr/lib/ageboot/ageboot", join(root, "usr/bin/ageboot"));
  put("etc/systemd/system/ageboot.service", readFileSync(join(repoRoot, "systemd/ageboot.service")));
  bootRoot.enable("ageboot.service", "sysinit.target");
  // Impermanence: the host key lives on /persist.
  put("etc/systemd/system/ageboot.service.d/persist.conf", "[Unit]\nRequiresMountsFor=/persist/etc/ssh\n");

  const values = { "app-token": TestHost.withCanary("app-token-value"), "shared-config": TestHost.withCanary("shared"), "nested/db": TestHost.withCanary("db") };
  const encrypt = (value: Buffer) => ageEncrypt(value, [["-R", `${hostKey}.pub`]]);
  put("etc/ageboot/secrets/app-token.age", encrypt(values["app-token"]));
  put("etc/ageboot/secrets/shared-config.age", encrypt(values["shared-config"]));
  put("etc/ageboot/secrets/db.age", encrypt(values["nested/db"]));
  put("etc/ageboot/secrets/app-token-2.age", encrypt(TestHost.withCanary("app-token-rotated")));
  // The rotation changes app-token's content (its consumer restarts; a unit that does not
  // exist is only a warning) and shared-config's mode (its unit reloads); nested/db stays
  // as it was, so its unit is left alone.
  const manifest = (appTokenFile: string, sharedMode: string, broken: boolean) =>
    JSON.stringify({
      version: 1,
      identityPaths: ["/persist/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key"],
      secrets: {
        "app-token": { file: appTokenFile, owner: "alice", mode: "0400", restartUnits: ["consumer.service", "ghost.service"] },
        "shared-config": { file: "/etc/ageboot/secrets/shared-config.age", owner: "alice", group: "shared", mode: sharedMode, reloadUnits: ["reloader"] },
        "nested/db": { file: "/etc/ageboot/secrets/db.age", restartUnits: ["untouched.service"] },
        ...(broken ? { broken: { file: "/etc/ageboot/secrets/broken.age", restartUnits: ["consumer.service"] } } : {}),
      },
      // A template holding two secrets: rendered at boot, re-rendered when app-token rotates, its consumer restarted.
      templates: {
        "app.conf": { content: appConf(placeholderFor("app-token"), placeholderFor("shared-config")), owner: "alice", mode: "0400", restartUnits: ["templated.service"] },
      },
    });
  put("etc/ageboot/manifest.json", manifest("/etc/ageboot/secrets/app-token.age", "0440", false));
  put("etc/ageboot/manifest-rotated.json", manifest("/etc/ageboot/secrets/app-token-2.age", "0444", false));
  put("etc/ageboot/manifest-broken.json", manifest("/etc/ageboot/secrets/app-token-2.age", "0444", true));
  put("etc/ageboot/secrets/broken.age", "age-encryption.org/v1\nnot really\n");

  // A consumer with no ordering of its own (only the defaults: after sysinit.target), that
  // records the value it read each time it starts; two more services that record their
  // starts and reloads.
  const longRunning = (record: string, extra = "") => `[Service]\n${extra}ExecStart=/bin/sh -c '${record}; exec sleep infinity'\n[Install]\nWantedBy=multi-user.target\n`;
  put("etc/systemd/system/consumer.service", longRunning('sha256sum < /run/agenix/app-token | cut -d" " -f1 >> /results/consumer.txt', "User=alice\n"));
  put("etc/systemd/system/untouched.service", longRunning("echo start >> /results/untouched.txt"));
  put("etc/systemd/system/reloader.service", longRunning("echo start >> /results/reloader.txt", "ExecReload=/bin/sh -c 'echo reload >> /results/reloader.txt'\n"));
  put("etc/systemd/system/templated.service", longRunning('sha256sum < /run/agenix/rendered/app.conf | cut -d" " -f1 >> /results/templated.txt', "User=alice\n"));
  for (const unit of ["consumer.service", "untouched.service", "reloader.service", "templated.service"]) bootRoot.enable(unit, "multi-user.target");
  put("usr/local/bin/check", readFileSync(join(repoRoot, "test/system/check.sh")), 0o755);
  put(
    "etc/systemd/system/checker.service",
    "[Unit]\nAfter=multi-user.target consumer.service\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check\n[Install]\nWantedBy=multi-user.target\n",
  );
  bootRoot.enable("checker.service", "multi-user.target");

  const { result, console: output } = bootRoot.boot([`${persist}:/persist`]);

  // The unit succeeded, before the consumer started, with progress in STATUS=.
  expect(result["boot_ageboot_result"]).toBe("success");
  expect(result["boot_ageboot_active"]).toBe("active");
  expect(result["boot_status_text"]).toMatch(/^generation 1 is current: 3 added/);
  expect(Number(result["consumer_start"])).toBeGreaterThan(Number(result["ageboot_exit"]));
  // Owners, groups and modes.
  expect(result["stat_app-token"]).toBe("alice:alice:400");
  expect(result["stat_shared-config"]).toBe("alice:shared:440");
  expect(result["stat_nested/db"]).toBe("root:root:400");
  expect(result["stat_mountpoint"]).toBe("root:root:751");
  // The consumer, an unprivileged user, read its secret at boot.
  expect(result["consumer"]).toBe(sha256(values["app-token"]));
  // The memory mount (a noswap tmpfs on this kernel, 6.4+) is in PID 1's namespace: visible host-wide, not private to the unit.
  expect(result["mount_pid1"]).toBe("tmpfs");
  // systemctl restart makes a new generation, with the rotated value.
  expect(result["restart_rc"]).toBe("0");
  expect(result["generation_after_restart"]).toBe("/run/agenix.d/2");
  expect(result["app_token_after_restart"]).toBe(sha256(TestHost.withCanary("app-token-rotated")));
  // restartUnits and reloadUnits: nothing restarted by the boot's own run; after the rotation
  // the consumer restarted once and read the new value, the reloader's ExecReload ran, the
  // unit of the unchanged secret was left alone, and the unit that does not exist was a warning.
  expect(result["consumer_runs_at_boot"]).toBe("1");
  expect(result["consumer_runs_after_restart"]).toBe("2");
  expect(result["consumer_read_after_restart"]).toBe(sha256(TestHost.withCanary("app-token-rotated")));
  expect(result["reloader_log"]).toBe("start,reload,");
  expect(result["untouched_starts"]).toBe("1");
  // The template: rendered with both values at boot (owner and mode as declared), re-rendered
  // with the rotated one, and its consumer restarted once to read it.
  const rendered = (token: Buffer) => sha256(Buffer.from(appConf(token.toString(), values["shared-config"].toString())));
  expect(result["stat_rendered"]).toBe("alice:alice:400");
  expect(result["templated_at_boot"]).toBe(rendered(values["app-token"]));
  expect(result["templated_runs_after_restart"]).toBe("2");
  expect(result["templated_after_restart"]).toBe(rendered(TestHost.withCanary("app-token-rotated")));
  // A broken secret fails the unit; the rest stay served from the current generation.
  expect(result["broken_rc"]).not.toBe("0");
  expect(result["broken_state"]).toBe("failed");
  expect(result["generation_after_broken"]).toBe("/run/agenix.d/2");
  expect(result["app_token_after_broken"]).toBe(sha256(TestHost.withCanary("app-token-rotated")));
  // A failed run restarts nothing.
  expect(result["consumer_runs_after_broken"]).toBe("2");
  const journal = readFileSync(join(results, "journal.txt"), "utf8");
  expect(journal).toMatch(/secret broken: .*malformed/);
  expect(journal).toMatch(/ghost\.service: systemctl try-restart failed: .*ghost\.service/);
  expect(journal).toContain("restart requested through systemctl: consumer.service, ghost.service");
  assertNoCanary("the journal of the booted system", journal);
  assertNoCanary("the console of the booted system", output);
}, 300_000);
