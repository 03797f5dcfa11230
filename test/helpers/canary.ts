import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Every plaintext the tests encrypt carries this marker. Everything the suite
 * captures from ageboot (stdout, stderr, log lines, error messages) is checked
 * for it: a secret byte in any of them fails the test that captured it.
 */
export const CANARY = "AGEBOOT-CANARY-7f3a9c51";

export function assertNoCanary(where: string, text: string | Buffer): void {
  if (text.toString("latin1").includes(CANARY)) throw new Error(`plaintext (the test canary) appeared in ${where}`);
}

/**
 * No file below `root` other than the `allowed` ones (copies a secret asked
 * for) may hold plaintext; `memoryMounts` (ramfs/tmpfs) are where it belongs.
 */
export function assertNoPlaintextOnDisk(root: string, memoryMounts: readonly string[], allowed: readonly string[]): void {
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (memoryMounts.includes(path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !allowed.includes(path) && statSync(path).size < 64 * 1024 * 1024) {
        if (readFileSync(path).includes(CANARY)) throw new Error(`plaintext (the test canary) found on disk outside the secrets mount: ${path}`);
      }
    }
  };
  walk(root);
}
