// A local user who plants a symlink on the way to their own secret's custom
// path (a directory they own) must not fail the shipped ageboot.service at
// boot, nor, with it, every unit that Requires= it: booted under a real
// systemd (systemd-nspawn, the Debian root of boot.test.ts). The run exits 7
// (every secret installed, a custom path not), which the unit lists in
// SuccessExitStatus=; the path's failure is in the journal, named.
import { execFileSync } from "node:child_process";
import { lchownSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { BootRoot } from "../helpers/nspawn-boot.js";
import { repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const makeBootRoot = BootRoot.perFile("ageboot-boot-custom-path");

it("a symlink a user planted in their own directory: the unit is active (exit 7), a Requires= consumer starts and reads its secret", () => {
  const bootRoot = makeBootRoot();
  const { root, results } = bootRoot;
  const put = bootRoot.put.bind(bootRoot);
  mkdirSync(join(root, "etc/ssh"), { recursive: true });
  const hostKey = sshKeygen(join(root, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");

  // bob, with a home of his own, in which his app directory is a symlink he made (to /etc).
  execFileSync("chroot", [root, "useradd", "-u", "4102", "-U", "-m", "-s", "/usr/sbin/nologin", "bob"]);
  symlinkSync("/etc", join(root, "home/bob/app"));
  lchownSync(join(root, "home/bob/app"), 4102, 4102);

  mkdirSync(join(root, "usr/bin"), { recursive: true });
  symlinkSync("/usr/lib/ageboot/ageboot", join(root, "usr/bin/ageboot"));
  put("etc/systemd/system/ageboot.service", readFileSync(join(repoRoot, "systemd/ageboot.service")));
  bootRoot.enable("ageboot.service", "sysinit.target");
  // The alias agenix's module gives its unit, which services name in Requires=.
  symlinkSync("/etc/systemd/system/ageboot.service", join(root, "etc/systemd/system/agenix-install-secrets.service"));

  const encrypt = (value: Buffer) => ageEncrypt(value, [["-R", `${hostKey}.pub`]]);
  const db = TestHost.withCanary("db-password");
  put("etc/ageboot/db.age", encrypt(db));
  put("etc/ageboot/bob.age", encrypt(TestHost.withCanary("bob-token")));
  put(
    "etc/ageboot/manifest.json",
    JSON.stringify({
      version: 1,
      identityPaths: ["/etc/ssh/ssh_host_ed25519_key"],
      secrets: {
        db: { file: "/etc/ageboot/db.age" },
        "bob-token": { file: "/etc/ageboot/bob.age", owner: "bob", path: "/home/bob/app/token" },
      },
    }),
  );

  put(
    "etc/systemd/system/db-consumer.service",
    "[Unit]\nRequires=agenix-install-secrets.service\nAfter=agenix-install-secrets.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sha256sum < /run/agenix/db | cut -d\" \" -f1 > /results/consumer.txt'\n[Install]\nWantedBy=multi-user.target\n",
  );
  bootRoot.enable("db-consumer.service", "multi-user.target");
  put(
    "usr/local/bin/check",
    `#!/bin/sh
{
  echo "ageboot_result=$(systemctl show -p Result --value ageboot.service)"
  echo "ageboot_active=$(systemctl is-active ageboot.service)"
  echo "ageboot_status=$(systemctl show -p ExecMainStatus --value ageboot.service)"
  echo "consumer_result=$(systemctl show -p Result --value db-consumer.service)"
  echo "consumer_active=$(systemctl is-active db-consumer.service)"
  echo "consumer=$(cat /results/consumer.txt)"
  echo "bob_token=$(stat -L -c '%U:%a' /run/agenix/bob-token)"
  echo "etc_token=$(test -e /etc/token && echo present || echo absent)"
  journalctl -b -u ageboot.service --no-pager -o cat > /results/journal.txt 2>&1
  echo "done=yes"
} > /results/results.txt 2>&1
systemctl poweroff --no-block
`,
    0o755,
  );
  put(
    "etc/systemd/system/checker.service",
    "[Unit]\nAfter=multi-user.target db-consumer.service\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check\n[Install]\nWantedBy=multi-user.target\n",
  );
  bootRoot.enable("checker.service", "multi-user.target");

  const { result, console: output } = bootRoot.boot();

  expect(result["ageboot_status"]).toBe("7");
  expect(result["ageboot_result"]).toBe("success");
  expect(result["ageboot_active"]).toBe("active");
  expect(result["consumer_result"]).toBe("success");
  expect(result["consumer_active"]).toBe("active");
  expect(result["consumer"]).toBe(execFileSync("sha256sum", { input: db }).toString().split(" ")[0]);
  // bob's secret is installed in the generation; nothing was written through his link.
  expect(result["bob_token"]).toBe("bob:400");
  expect(result["etc_token"]).toBe("absent");
  const journal = readFileSync(join(results, "journal.txt"), "utf8");
  expect(journal).toMatch(/secret bob-token: path \/home\/bob\/app\/token/);
  assertNoCanary("the journal of the booted system", journal);
  assertNoCanary("the console of the booted system", output);
});
