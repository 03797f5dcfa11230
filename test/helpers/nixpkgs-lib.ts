import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * nixpkgs' lib for the module evaluation tests, from NIXPKGS_LIB (a checkout of
 * nix-community/nixpkgs.lib, the directory holding lib/). Unset: the tests of
 * `what` are skipped, and a warning says how to run them. Set but wrong: the
 * file fails at once, never skips.
 */
export function nixpkgsLibFor(what: string): { nixpkgsLib: string; skipReason: null } | { nixpkgsLib: null; skipReason: string } {
  const nixpkgsLib = process.env["NIXPKGS_LIB"];
  if (nixpkgsLib === undefined || nixpkgsLib === "") {
    const skipReason = `NIXPKGS_LIB is unset: skipping ${what}. Run them with NIXPKGS_LIB=/path/to/nixpkgs.lib (a checkout of nix-community/nixpkgs.lib, the directory holding lib/) bash scripts/run-tests.sh --project privileged FILE`;
    console.warn(skipReason);
    return { nixpkgsLib: null, skipReason };
  }
  if (!existsSync(join(nixpkgsLib, "lib", "default.nix"))) throw new Error(`NIXPKGS_LIB=${nixpkgsLib} has no lib/default.nix`);
  return { nixpkgsLib, skipReason: null };
}
