// Known answers from sops-nix's own test files (Mic92/sops-nix,
// pkgs/sops-install-secrets/test-assets), read at test time from a fetched
// copy of the repository (never copied into this one): set
// AGEBOOT_SOPS_NIX_GIT to its git directory; without it these tests are skipped.
// Expected values come from sops-nix's main_test.go (test_key = "test_value",
// nested/test/file = "another value", a_list = [one, two]) and its
// age-keys.txt / ssh-ed25519-key recipients.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadIdentities } from "../../src/identities/load.js";
import { SopsSession } from "../../src/sops/session.js";
import { openSync } from "node:fs";
import { tempDir } from "../helpers/temp-dir.js";

const gitDir = process.env["AGEBOOT_SOPS_NIX_GIT"] ?? "/work/.mirror/Mic92+sops-nix/repo";
const available = existsSync(gitDir);
const { dir, cleanup } = tempDir();
afterAll(cleanup);

function asset(name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, execFileSync("git", ["--git-dir", gitDir, "show", `HEAD:pkgs/sops-install-secrets/test-assets/${name}`]), { mode: 0o600 });
  }
  return path;
}

describe.skipIf(!available)("sops-nix test assets (skipped: set AGEBOOT_SOPS_NIX_GIT to a fetched Mic92/sops-nix git directory)", () => {
  for (const keyFile of ["age-keys.txt", "ssh-ed25519-key"]) {
    it(`secrets.yaml opens with ${keyFile}: key paths, whole file`, async () => {
      const { identities } = await loadIdentities([asset(keyFile)]);
      const session = new SopsSession(identities);
      const file = asset("secrets.yaml");
      const read = (key: string) => session.secret(file, "yaml", key, () => openSync(file, "r"));
      expect((await read("test_key")).toString()).toBe("test_value");
      expect((await read("nested/test/file")).toString()).toBe("another value");
      expect((await read("a_list/1")).toString()).toBe("e3"); // the MAC vouches for it
      expect((await read("")).toString()).toBe("test_key: test_value\na_list:\n    - e1\n    - e3\nnested:\n    test:\n        file: another value\n");
      expect(session.filesOpened).toBe(1);
      session.close();
    });
  }
});
