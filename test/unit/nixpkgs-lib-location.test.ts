// Where the module evaluation tests find nixpkgs' lib (test/helpers/nixpkgs-lib.ts):
// NIXPKGS_LIB, else ../shared/nixpkgs-lib beside the repository; with neither
// the asking file must fail, never skip.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_NIXPKGS_LIB, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir("ageboot-nixpkgs-lib-");
afterAll(cleanup);

describe("nixpkgs' lib for the module evaluation tests", () => {
  it("is shared/nixpkgs-lib beside the repository root by default", () => {
    expect(DEFAULT_NIXPKGS_LIB).toBe(resolve(repoRoot, "..", "shared", "nixpkgs-lib"));
  });

  it("is NIXPKGS_LIB when that holds lib/default.nix", () => {
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", "default.nix"), "{ }\n");
    expect(nixpkgsLibFor("these tests", { NIXPKGS_LIB: dir })).toBe(dir);
  });

  it("throws, naming the variable and the default place, when NIXPKGS_LIB is wrong", () => {
    const missing = join(dir, "absent");
    expect(() => nixpkgsLibFor("these tests", { NIXPKGS_LIB: missing })).toThrow(`NIXPKGS_LIB=${missing} has no lib/default.nix`);
    expect(() => nixpkgsLibFor("these tests", { NIXPKGS_LIB: missing })).toThrow(DEFAULT_NIXPKGS_LIB);
  });

  it("unset, uses the default place, and throws naming it when it is absent", () => {
    // Either outcome is checked: whether the default exists depends on the checkout.
    let found: string | null = null;
    let failure: unknown = null;
    try {
      found = nixpkgsLibFor("these tests", {});
    } catch (error) {
      failure = error;
    }
    if (failure === null) expect(found).toBe(DEFAULT_NIXPKGS_LIB);
    else expect(String(failure)).toContain(`NIXPKGS_LIB is unset and ${DEFAULT_NIXPKGS_LIB} has no lib/default.nix`);
  });
});
