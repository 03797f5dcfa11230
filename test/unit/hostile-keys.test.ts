// The hostile identity file corpus, in process: as the only identity path,
// none of them yields an identity (so a run stops with NO_IDENTITY, exit 3,
// before anything is touched: test/privileged/hostile.test.ts shows that
// through the CLI with all of them at once), and each gets its own warning,
// which echoes nothing from inside the file.
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadIdentities } from "../../src/identities/load.js";
import { hostileIdentityFiles, makeHostileIdentityFiles } from "../helpers/hostile-identity-files.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Lines of a key file long enough to be key material, which no warning may repeat. */
function keyMaterialLines(path: string): string[] {
  try {
    if (!statSync(path).isFile() || statSync(path).size > 1024 * 1024) return [];
  } catch {
    return []; // the symlink loop
  }
  return readFileSync(path, "latin1")
    .split("\n")
    .filter((line) => line.length >= 24 && !line.startsWith("-----"));
}

let caseCounter = 0;
describe("hostile identity files (the only identity path)", () => {
  it("covers the whole corpus", () => expect(hostileIdentityFiles.length).toBeGreaterThanOrEqual(12));

  it.each(hostileIdentityFiles)("%s -> no identity, and a warning naming it", async (_, make, warning) => {
    const own = join(dir, `case-${caseCounter++}`);
    mkdirSync(own);
    const path = await make(own);
    const set = await loadIdentities([path]);
    expect(set.identities).toEqual([]);
    // Some get two (a public key is also readable by others), all about this path.
    expect(set.warnings.length).toBeGreaterThan(0);
    expect(set.warnings.every((entry) => entry.path === path)).toBe(true);
    expect(set.warnings.map((entry) => entry.message).join(" | ")).toContain(warning);
    for (const line of keyMaterialLines(path)) expect(JSON.stringify(set.warnings)).not.toContain(line.slice(0, 24));
  });

  it("all of them together still yield nothing, and each is warned about", async () => {
    const all = join(dir, "all");
    mkdirSync(all);
    const paths = await makeHostileIdentityFiles(all);
    const set = await loadIdentities(paths);
    expect(set.identities).toEqual([]);
    expect([...new Set(set.warnings.map((entry) => entry.path))]).toEqual(paths);
  });
});
