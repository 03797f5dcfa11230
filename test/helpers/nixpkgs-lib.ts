import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

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

/**
 * Evaluates the fixture `evalFile` (which takes nixpkgsLib, case and `args` as
 * --argstr) once per configuration name, as JSON. --readonly-mode: paths are
 * hashed, never copied into a store.
 */
export function fixtureEvaluator<Facts>(evalFile: string, nixpkgsLib: string | null, args: Record<string, string> = {}): (configuration: string) => Facts {
  const cache = new Map<string, Facts>();
  return (configuration) => {
    const cached = cache.get(configuration);
    if (cached) return cached;
    const argstrs = Object.entries({ nixpkgsLib: nixpkgsLib as string, case: configuration, ...args }).flatMap(([name, value]) => ["--argstr", name, value]);
    const json = execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", evalFile, ...argstrs], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const facts = JSON.parse(json) as Facts;
    cache.set(configuration, facts);
    return facts;
  };
}

/** Both activation snippets are in `order`, `first` before `second`. */
export function expectBefore(order: string[], first: string, second: string): void {
  expect(order, `activation order: ${order.join(" ")}`).toContain(first);
  expect(order).toContain(second);
  expect(order.indexOf(first), `${first} runs before ${second} in: ${order.join(" ")}`).toBeLessThan(order.indexOf(second));
}
