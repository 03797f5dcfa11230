// Two builds of the same source give the same dist/, code cache included
// (scripts/build.mjs, src/code-cache/; issue 21: `nix build --rebuild` must
// agree). Two checkouts under different directory names, built one after the
// other, as Nix would build twice; they share the checkout's node_modules. The
// cache still depends on the kind of temporary directory the warm-up runs in
// (which checks it takes): both builds use the same TMPDIR, as Nix's sandbox
// always gives the same one. About two seconds per build.
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function buildIn(name: string): string {
  const checkout = join(dir, name);
  for (const path of ["src", "scripts", "demo", "package.json", "tsconfig.json", "tsconfig.build.json"]) cpSync(join(repoRoot, path), join(checkout, path), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(checkout, "node_modules"));
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: checkout, stdio: ["ignore", "pipe", "pipe"] });
  return join(checkout, "dist");
}

describe("the build is reproducible", () => {
  it("two checkouts build the same bytes, dist/cli.cache included", { timeout: 120_000 }, () => {
    const first = buildIn("a");
    const second = buildIn("second-checkout");
    const files = readdirSync(first).sort();
    expect(readdirSync(second).sort()).toEqual(files);
    expect(files).toContain("cli.cache");
    for (const file of files) expect(readFileSync(join(second, file)).equals(readFileSync(join(first, file))), file).toBe(true);
  });
});
