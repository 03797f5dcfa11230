// The user unit (systemd/ageboot-user.service) booted under a real systemd:
// systemd-nspawn --boot on the Debian root of test/system/make-root.sh, with a
// lingering user, alice (/var/lib/systemd/linger/alice, what
// `loginctl enable-linger alice` writes), whom nobody logs in as. At boot
// systemd-logind starts her user manager and mounts her runtime directory
// (a tmpfs at /run/user/UID); the unit, enabled for every user as a package
// would install it, decrypts her secrets from her own ~/.ssh/id_ed25519; a user
// service of hers reads one; a checker records what it sees and powers off.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const work = mkdtempSync("/var/tmp/ageboot-user-boot-");
// AGEBOOT_KEEP_BOOT_ROOT=1 keeps the root (with its persistent journal) for a post-mortem.
afterAll(() => {
  if (!process.env["AGEBOOT_KEEP_BOOT_ROOT"]) rmSync(work, { recursive: true, force: true });
  else process.stderr.write(`user boot test: root kept in ${work}\n`);
});

const ALICE = 4101;

function put(root: string, path: string, contents: string | Buffer, mode = 0o644, owner = 0): void {
  const target = join(root, path);
  mkdirSync(join(target, ".."), { recursive: true });
  writeFileSync(target, contents);
  chmodSync(target, mode);
  chownSync(target, owner, owner);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

it("a lingering user's unit decrypts their secrets into their runtime tmpfs at boot, before their services, without a login", () => {
  const cached = execFileSync("bash", [join(repoRoot, "test/system/make-root.sh")], { stdio: ["ignore", "pipe", "inherit"] })
    .toString()
    .trim();
  const root = join(work, "root");
  execFileSync("cp", ["-a", cached, root]);
  chmodSync(root, 0o755);
  const results = join(work, "results");
  mkdirSync(results);
  chmodSync(results, 0o777);
  mkdirSync(join(root, "var/log/journal"), { recursive: true });

  // alice, with a home and a shell as useradd gives them; bob, who must not read her secrets.
  execFileSync("chroot", [root, "useradd", "-u", String(ALICE), "-U", "-m", "-s", "/bin/sh", "alice"]);
  execFileSync("chroot", [root, "useradd", "-u", "4102", "-U", "-M", "-s", "/usr/sbin/nologin", "bob"]);
  const home = join(root, "home/alice");
  // Her own key, made by ssh-keygen, hers alone.
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  const key = sshKeygen(join(home, ".ssh"), "id_ed25519", "ed25519");
  const values = { token: TestHost.withCanary("user-token"), key: TestHost.withCanary("user-key"), rotated: TestHost.withCanary("user-token-rotated") };
  const encrypt = (value: Buffer) => ageEncrypt(value, [["-R", `${key}.pub`]]);
  put(root, "home/alice/secrets/token.age", encrypt(values.token), 0o644, ALICE);
  put(root, "home/alice/secrets/key.age", encrypt(values.key), 0o644, ALICE);
  put(root, "home/alice/secrets/token-2.age", encrypt(values.rotated), 0o644, ALICE);
  // Her manifest where the unit looks for it (~/.config/ageboot/manifest.json), with agenix's defaults.
  const manifest = (tokenFile: string) =>
    JSON.stringify({ version: 1, secrets: { token: { file: tokenFile }, "app/key": { file: "~/secrets/key.age", path: "~/.config/app/key" } } });
  put(root, "home/alice/.config/ageboot/manifest.json", manifest("~/secrets/token.age"), 0o644, ALICE);
  put(root, "home/alice/.config/ageboot/manifest-rotated.json", manifest("~/secrets/token-2.age"), 0o644, ALICE);
  execFileSync("chown", ["-R", `${ALICE}:${ALICE}`, home]);

  // The package: dist/ and node bound in at boot, /usr/bin/ageboot -> the launcher.
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  symlinkSync("/usr/lib/ageboot/ageboot", join(root, "usr/bin/ageboot"));
  // The user unit, installed and enabled for every user (what `systemctl --global enable` does).
  put(root, "etc/systemd/user/ageboot-user.service", readFileSync(join(repoRoot, "systemd/ageboot-user.service")));
  mkdirSync(join(root, "etc/systemd/user/default.target.wants"), { recursive: true });
  symlinkSync("/etc/systemd/user/ageboot-user.service", join(root, "etc/systemd/user/default.target.wants/ageboot-user.service"));
  // A user service of hers that needs the secret, ordered as docs/home-manager.md says.
  put(
    root,
    "etc/systemd/user/consumer.service",
    "[Unit]\nWants=ageboot-user.service\nAfter=ageboot-user.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sha256sum < %t/agenix/token | cut -d\" \" -f1 > /results/user-consumer.txt'\n[Install]\nWantedBy=default.target\n",
  );
  symlinkSync("/etc/systemd/user/consumer.service", join(root, "etc/systemd/user/default.target.wants/consumer.service"));
  // Lingering: what `loginctl enable-linger alice` records.
  put(root, "var/lib/systemd/linger/alice", "");

  put(root, "usr/local/bin/check-user", readFileSync(join(repoRoot, "test/system/check-user.sh")), 0o755);
  put(
    root,
    "etc/systemd/system/checker.service",
    "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check-user\n[Install]\nWantedBy=multi-user.target\n",
  );
  mkdirSync(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  symlinkSync("/etc/systemd/system/checker.service", join(root, "etc/systemd/system/multi-user.target.wants/checker.service"));

  const boot = spawnSync(
    "systemd-nspawn",
    [
      "--quiet",
      "--boot",
      `--directory=${root}`,
      "--console=pipe",
      "--register=no",
      "--keep-unit",
      `--bind=${results}:/results`,
      `--bind-ro=${process.execPath}:/usr/bin/node`,
      `--bind-ro=${join(repoRoot, "dist")}:/usr/lib/ageboot`,
    ],
    { encoding: "utf8", timeout: Number(process.env["AGEBOOT_BOOT_TIMEOUT_MS"] ?? 240_000) },
  );
  const output = `${boot.stdout}\n${boot.stderr}`;
  const resultText = (() => {
    try {
      return readFileSync(join(results, "results.txt"), "utf8");
    } catch {
      return "";
    }
  })();
  expect(resultText, `no results; the boot said:\n${output.slice(-4000)}`).toContain("done=yes");
  const result = Object.fromEntries(
    resultText
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const runtime = `/run/user/${ALICE}`;

  // Nobody logged in: logind started her manager because she lingers.
  expect(result["linger"], resultText).toBe("yes");
  expect(result["sessions"]).toBe("");
  expect(result["user_manager"]).toBe("active");
  // The unit succeeded, from the user manager, into her runtime tmpfs.
  expect(result["unit_result"], resultText).toBe("success");
  expect(result["unit_active"]).toBe("active");
  expect(result["status_text"]).toMatch(/^generation 1 is current: 2 added/);
  expect(result["runtime_fs"]).toBe("tmpfs");
  expect(result["runtime_dir"]).toBe("alice:700");
  expect(result["secrets_dir"]).toBe(`${runtime}/agenix.d/1`);
  expect(result["stat_token"]).toBe("alice:alice:400");
  expect(result["custom_path"]).toBe(`${runtime}/agenix/app/key`);
  // Her service, ordered after the unit, read the secret; bob could not.
  expect(result["consumer"]).toBe(sha256(values.token));
  expect(Number(result["consumer_start"])).toBeGreaterThan(Number(result["ageboot_exit"]));
  expect(result["other_user_reads"]).toBe("no");
  // systemctl --user restart makes a new generation with the rotated value.
  expect(result["restart_rc"]).toBe("0");
  expect(result["secrets_dir_after_restart"]).toBe(`${runtime}/agenix.d/2`);
  expect(result["token_after_restart"]).toBe(sha256(values.rotated));
  const journal = readFileSync(join(results, "journal.txt"), "utf8");
  expect(journal).toMatch(/generation 2 is current: 0 added, 1 changed/);
  assertNoCanary("the journal of the booted system", journal);
  assertNoCanary("the console of the booted system", output);
}, 600_000);
