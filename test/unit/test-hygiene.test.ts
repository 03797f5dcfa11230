// Rules the suite keeps about itself, checked on its own source: every run of
// the CLI goes through test/helpers/ageboot-process.ts (which checks its output
// for the plaintext canary), and every pretend host through
// test/helpers/host-lifecycle.ts (which unmounts it, removes it and searches it
// for plaintext on disk).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/paths.js";

function testSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testSources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const sources = testSources(join(repoRoot, "test")).map((path) => ({ name: relative(repoRoot, path), text: readFileSync(path, "utf8") }));

/** The argument text of every call to a process-starting function, parentheses balanced. */
function processCalls(text: string): string[] {
  const calls: string[] = [];
  for (const match of text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|exec|execSync|fork)\(/g)) {
    let depth = 1;
    let end = match.index + match[0].length;
    while (end < text.length && depth > 0) {
      if (text[end] === "(") depth++;
      else if (text[end] === ")") depth--;
      end++;
    }
    calls.push(text.slice(match.index + match[0].length, end - 1));
  }
  return calls;
}

/** What starting ageboot looks like: the built CLI (its start script or its bundle) or its launcher, shipped or test build. */
const startsAgeboot = /\b(?:launcherPath|startPath|testBuildLauncherPath|testBuildStartPath)\b|dist(?:-test)?\/(?:ageboot|start\.cjs|cli\.cjs)/;

describe("test hygiene", () => {
  it("finds the suite's sources, and the detector recognises a direct start of the CLI", () => {
    expect(sources.length).toBeGreaterThan(20);
    expect(processCalls("spawnSync(process.execPath, [startPath, ...args], { env })").some((call) => startsAgeboot.test(call))).toBe(true);
    expect(processCalls('spawn(launcherPath, [f(x), "activate"])').some((call) => startsAgeboot.test(call))).toBe(true);
    expect(processCalls('spawnSync(testBuildLauncherPath, ["activate"])').some((call) => startsAgeboot.test(call))).toBe(true);
  });

  it("no test starts the CLI except through test/helpers/ageboot-process.ts", () => {
    const offenders = sources
      // This file holds samples of what it detects.
      .filter(({ name }) => name !== "test/helpers/ageboot-process.ts" && name !== "test/unit/test-hygiene.test.ts")
      .flatMap(({ name, text }) =>
        processCalls(text)
          .filter((call) => startsAgeboot.test(call))
          .map((call) => `${name}: ${call.slice(0, 80)}`),
      );
    expect(offenders).toEqual([]);
  });

  it("every TestHost comes from the host fixture (test/helpers/host-lifecycle.ts)", () => {
    const offenders = sources.filter(({ name, text }) => name !== "test/helpers/host-lifecycle.ts" && /\bnew TestHost\(/.test(text)).map(({ name }) => name);
    expect(offenders).toEqual([]);
  });
});
