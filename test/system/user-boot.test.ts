// The user unit (systemd/ageboot-user.service) booted under a real systemd:
// systemd-nspawn --boot on the Debian root of test/system/make-root.sh, with a
// lingering user, alice (/var/lib/systemd/linger/alice, what
// `loginctl enable-linger alice` writes), whom nobody logs in as. At boot
// systemd-logind starts her user manager and mounts her runtime directory
// (a tmpfs at /run/user/UID); the unit, enabled for every user as a package
// would install it, decrypts her secrets from her own ~/.ssh/id_ed25519; a user
// service of hers reads one; a checker records what it sees and powers off.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { BootRoot } from "../helpers/nspawn-boot.js";
import { repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const makeBootRoot = BootRoot.perFile("ageboot-user-boot");

const ALICE = 4101;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

it("a lingering user's unit decrypts their secrets into their runtime tmpfs at boot, before their services, without a login", () => {
  const bootRoot = makeBootRoot();
  const { root, results } = bootRoot;
  const put = bootRoot.put.bind(bootRoot);

  // alice, with a home and a shell as useradd gives them; bob, who must not read her secrets.
  execFileSync("chroot", [root, "useradd", "-u", String(ALICE), "-U", "-m", "-s", "/bin/sh", "alice"]);
  execFileSync("chroot", [root, "useradd", "-u", "4102", "-U", "-M", "-s", "/usr/sbin/nologin", "bob"]);
  const home = join(root, "home/alice");
  // Her own key, made by ssh-keygen, hers alone.
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  const key = sshKeygen(join(home, ".ssh"), "id_ed25519", "ed25519");
  const values = { token: TestHost.withCanary("user-token"), key: TestHost.withCanary("user-key"), rotated: TestHost.withCanary("user-token-rotated") };
  const encrypt = (value: Buffer) => ageEncrypt(value, [["-R", `${key}.pub`]]);
  put("home/alice/secrets/token.age", encrypt(values.token), 0o644, ALICE);
  put("home/alice/secrets/key.age", encrypt(values.key), 0o644, ALICE);
  put("home/alice/secrets/token-2.age", encrypt(values.rotated), 0o644, ALICE);
  // Her manifest where the unit looks for it (~/.config/ageboot/manifest.json), with agenix's defaults.
  const manifest = (tokenFile: string) =>
    JSON.stringify({ version: 1, secrets: { token: { file: tokenFile }, "app/key": { file: "~/secrets/key.age", path: "~/.config/app/key" } } });
  put("home/alice/.config/ageboot/manifest.json", manifest("~/secrets/token.age"), 0o644, ALICE);
  put("home/alice/.config/ageboot/manifest-rotated.json", manifest("~/secrets/token-2.age"), 0o644, ALICE);
  execFileSync("chown", ["-R", `${ALICE}:${ALICE}`, home]);

  // The package: dist/ and node bound in at boot, /usr/bin/ageboot -> the launcher.
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  symlinkSync("/usr/lib/ageboot/ageboot", join(root, "usr/bin/ageboot"));
  // The user unit, installed and enabled for every user (what `systemctl --global enable` does).
  put("etc/systemd/user/ageboot-user.service", readFileSync(join(repoRoot, "systemd/ageboot-user.service")));
  bootRoot.enable("ageboot-user.service", "default.target", "user");
  // A user service of hers that needs the secret, ordered as docs/home-manager.md says.
  put(
    "etc/systemd/user/consumer.service",
    "[Unit]\nWants=ageboot-user.service\nAfter=ageboot-user.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sha256sum < %t/agenix/token | cut -d\" \" -f1 > /results/user-consumer.txt'\n[Install]\nWantedBy=default.target\n",
  );
  bootRoot.enable("consumer.service", "default.target", "user");
  // Lingering: what `loginctl enable-linger alice` records.
  put("var/lib/systemd/linger/alice", "");

  put("usr/local/bin/check-user", readFileSync(join(repoRoot, "test/system/check-user.sh")), 0o755);
  put(
    "etc/systemd/system/checker.service",
    "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check-user\n[Install]\nWantedBy=multi-user.target\n",
  );
  bootRoot.enable("checker.service", "multi-user.target");

  const { result, text: resultText, console: output } = bootRoot.boot();

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
