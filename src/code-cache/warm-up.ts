import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { main } from "../main.js";

/**
 * Runs the activation path once, at build time, before the bundle's code cache
 * is taken (src/code-cache/make.ts): V8's code cache holds the bytecode of the
 * functions that have run, and a boot then skips compiling them.
 *
 * Only the public demo material (demo/: throwaway host keys and values) is
 * used, in a throwaway directory with --insecure-plain-directory, so that it
 * runs unprivileged in a build sandbox and nothing secret can reach the
 * cache (which holds code, not the heap; test/privileged/code-cache.test.ts
 * checks it all the same). A failure here only makes the cache colder; it is
 * reported and the build goes on.
 */
export async function warmUp(demoDir: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "ageboot-warm-up-"));
  try {
    const keys = ["DEMO-ONLY-ssh_host_ed25519_key", "DEMO-ONLY-ssh_host_rsa_key"].map((name) => {
      const path = join(work, name);
      copyFileSync(join(demoDir, name), path);
      return path;
    });
    // The secrets too: every path the warm-up opens is then under the temporary directory, so which checks
    // run (and so which functions the cache holds) does not depend on where the checkout is (the same
    // bytes from two checkouts; scripts/build.mjs).
    const secrets = join(work, "secrets");
    mkdirSync(secrets);
    for (const name of ["db-password", "api-token", "sops-style"]) copyFileSync(join(demoDir, "secrets", `${name}.age`), join(secrets, `${name}.age`));
    const manifest = join(work, "manifest.json");
    const owner = userInfo().username;
    writeFileSync(
      manifest,
      JSON.stringify({
        version: 1,
        secretsDir: join(work, "agenix"),
        secretsMountPoint: join(work, "agenix.d"),
        identityPaths: keys,
        secrets: Object.fromEntries(["db-password", "api-token", "sops-style"].map((name) => [name, { file: join(secrets, `${name}.age`), owner, group: owner, mode: "0400" }])),
      }),
      { mode: 0o600 },
    );
    const quiet = ["--log-level", "error"];
    const start = { from: "the warm-up", readyAtMs: 0 };
    // Twice: the first run adds every secret, the second compares, finds them unchanged and prunes.
    for (let run = 0; run < 2; run++) {
      const status = await main([...quiet, "activate", "--manifest", manifest, "--insecure-plain-directory"], start);
      if (status !== 0) throw new Error(`demo activation exited ${status}`);
    }
    await main([...quiet, "decrypt", "-i", keys[0]!, "-o", join(work, "decrypted"), join(secrets, "db-password.age")], start);
  } catch (error) {
    process.stderr.write(`ageboot build: warm-up incomplete, the code cache will start colder: ${String(error)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
