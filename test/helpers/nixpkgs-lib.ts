import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { repoRoot } from "./paths.js";

/**
 * Where nixpkgs' lib is when NIXPKGS_LIB is unset: `shared/nixpkgs-lib` beside
 * the repository (a checkout of nix-community/nixpkgs.lib, the directory
 * holding lib/). A test input, never copied into the repository; CI clones
 * the repository into a folder with a copy of shared/ beside it.
 */
export const DEFAULT_NIXPKGS_LIB = resolve(repoRoot, "..", "shared", "nixpkgs-lib");

/**
 * nixpkgs' lib for the module evaluation tests: NIXPKGS_LIB, else
 * DEFAULT_NIXPKGS_LIB. Neither there: throws, so the file that asks fails at
 * once (never skips: a suite that passes without evaluating the modules says
 * nothing about them), naming both places. Set but wrong: fails the same way.
 */
export function nixpkgsLibFor(what: string, environment: NodeJS.ProcessEnv = process.env): string {
  const fromEnvironment = environment["NIXPKGS_LIB"];
  const nixpkgsLib = fromEnvironment === undefined || fromEnvironment === "" ? DEFAULT_NIXPKGS_LIB : fromEnvironment;
  if (existsSync(join(nixpkgsLib, "lib", "default.nix"))) return nixpkgsLib;
  const where = nixpkgsLib === fromEnvironment ? `NIXPKGS_LIB=${nixpkgsLib}` : `NIXPKGS_LIB is unset and ${DEFAULT_NIXPKGS_LIB}`;
  throw new Error(
    `${what} need nixpkgs' lib, and ${where} has no lib/default.nix: put a checkout of nix-community/nixpkgs.lib (the directory holding lib/) at ${DEFAULT_NIXPKGS_LIB}, or set NIXPKGS_LIB to one`,
  );
}

/**
 * Evaluates the fixture `evalFile` (which takes nixpkgsLib, case and `args` as
 * --argstr) once per configuration name, as JSON. --readonly-mode: paths are
 * hashed, never copied into a store.
 */
export function fixtureEvaluator<Facts>(evalFile: string, nixpkgsLib: string, args: Record<string, string> = {}): (configuration: string) => Facts {
  const cache = new Map<string, Facts>();
  return (configuration) => {
    const cached = cache.get(configuration);
    if (cached) return cached;
    const argstrs = Object.entries({ nixpkgsLib, case: configuration, ...args }).flatMap(([name, value]) => ["--argstr", name, value]);
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
