// Crash consistency (invariants 1, 3 and 4 under SIGKILL): ageboot is killed
// right after each step that changes the file system (fault points counted by
// src/fault-injection.ts), for every step of several realistic runs, and then at
// a few hundred random moments. After every kill, what users can see is a
// complete generation (old or new, every file with its final content, owner,
// group and mode) or, on a first run, nothing; the next run succeeds and leaves
// no leftovers. Each starting state is built once by real runs, saved, and
// restored before every kill point (test/helpers/saved-states.ts). Templates
// are items like secrets here: their rendered files (rendered/<name>, and their
// custom paths) must be complete and match one state like every secret's.
import type { SpawnSyncReturns } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { placeholderFor } from "../../src/templates/placeholder.js";
import { startAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { TestHost, type SecretSettings } from "../helpers/host.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { SavedStates, type SavedState } from "../helpers/saved-states.js";

beforeAll(requirePrivateNamespace);

const { alice, bob } = TEST_USERS;
const host = hostPerFile();

/** What users must see for one declared secret or template (a template's name: rendered/<name>). */
interface Expected {
  value: string;
  uid: number;
  gid: number;
  mode: number;
  /** A custom path, and whether it is a copy. */
  path?: string;
  copy?: boolean;
}
type State = Record<string, Expected>;

interface Version {
  secrets: Record<string, SecretSettings>;
  templates: Record<string, Record<string, unknown>>;
  expected: State;
}

const customDir = join(host.root, "etc/app");
let savedStates: SavedStates;
beforeAll(() => {
  savedStates = new SavedStates(host, [customDir]);
});

/** A manifest version: its secrets, encrypted once, and what each must look like. */
function version(tag: string, withCustomPaths: boolean, extraName: string, withTemplates = false): Version {
  const secrets: Record<string, SecretSettings> = {};
  const templates: Record<string, Record<string, unknown>> = {};
  const expected: State = {};
  const add = (name: string, value: string, settings: Omit<SecretSettings, "file">, expectation: Omit<Expected, "value">) => {
    secrets[name] = { file: host.encrypt(value), ...settings };
    expected[name] = { value, ...expectation };
  };
  add("db-password", `db-${tag}`, { owner: alice.name, mode: "0400" }, { uid: alice.uid, gid: alice.gid, mode: 0o400 });
  add("nested/dir/token", `token-${tag}`, { owner: bob.name, mode: "0440" }, { uid: bob.uid, gid: bob.gid, mode: 0o440 });
  add(extraName, `extra-${tag}`, {}, { uid: 0, gid: 0, mode: 0o400 });
  if (withCustomPaths) {
    add("linked", `linked-${tag}`, { path: join(customDir, "linked") }, { uid: 0, gid: 0, mode: 0o400, path: join(customDir, "linked") });
    add(
      "copied",
      `copied-${tag}`,
      { path: join(customDir, "copied"), symlink: false, owner: alice.name, mode: "0440" },
      { uid: alice.uid, gid: alice.gid, mode: 0o440, path: join(customDir, "copied"), copy: true },
    );
  }
  if (withTemplates) {
    // Two secrets in one file, ending with a secret so that the rendered file ends with the canary as a secret does.
    const text = `DB=${placeholderFor("db-password")}\nTOKEN=${placeholderFor("nested/dir/token")}`;
    const rendered = `DB=db-${tag}\n${CANARY}\nTOKEN=token-${tag}`;
    const addTemplate = (name: string, settings: Record<string, unknown>, expectation: Omit<Expected, "value">) => {
      templates[name] = { content: text, ...settings };
      expected[`rendered/${name}`] = { value: rendered, ...expectation };
    };
    addTemplate("app.env", { owner: alice.name, mode: "0440" }, { uid: alice.uid, gid: alice.gid, mode: 0o440 });
    addTemplate("conf/linked.env", { path: join(customDir, "linked.env") }, { uid: 0, gid: 0, mode: 0o400, path: join(customDir, "linked.env") });
    addTemplate(
      "copied.env",
      { owner: bob.name, path: join(customDir, "copied.env"), symlink: false },
      { uid: bob.uid, gid: bob.gid, mode: 0o400, path: join(customDir, "copied.env"), copy: true },
    );
    // Only in this version: removed (with its custom path) by the next.
    addTemplate(`only-${tag}.env`, { path: join(customDir, `only-${tag}.env`) }, { uid: 0, gid: 0, mode: 0o400, path: join(customDir, `only-${tag}.env`) });
  }
  return { secrets, templates, expected };
}

interface Scenario {
  name: string;
  keepGenerations: number;
  /** Runs that succeed before the run under test. */
  before: Version[];
  run: Version;
}

const plain = [version("a", false, "only-in-a"), version("b", false, "only-in-b")];
const custom = [version("c", true, "only-in-c"), version("d", true, "only-in-d")];
const templated = [version("e", true, "only-in-e", true), version("f", true, "only-in-f", true)];
const scenarios: Scenario[] = [
  { name: "first run after boot", keepGenerations: 1, before: [], run: plain[0]! },
  { name: "later run that changes, adds and removes secrets", keepGenerations: 1, before: [plain[0]!], run: plain[1]! },
  { name: "run with custom paths, symlinked and copied", keepGenerations: 1, before: [custom[0]!], run: custom[1]! },
  { name: "first run with templates", keepGenerations: 1, before: [], run: templated[0]! },
  { name: "run with templates that change, move and are removed", keepGenerations: 1, before: [templated[0]!], run: templated[1]! },
  { name: "run that prunes old generations", keepGenerations: 1, before: [plain[0]!, plain[1]!, plain[0]!], run: plain[1]! },
];

function reset(): void {
  savedStates.clear();
}

function activate(version: Version, keepGenerations: number, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  host.keepGenerations = keepGenerations;
  host.writeManifest(version.secrets, { templates: version.templates });
  return host.activateWith({ env });
}

/** Each scenario's starting state, made by its earlier runs the first time it is needed. */
const startingStates = new Map<Scenario, SavedState>();

function prepare(scenario: Scenario): void {
  const saved = startingStates.get(scenario);
  if (saved !== undefined) {
    savedStates.restore(saved);
    return;
  }
  reset();
  for (const earlier of scenario.before) expect(activate(earlier, scenario.keepGenerations).status).toBe(0);
  startingStates.set(scenario, savedStates.save(`before ${scenario.name}`));
}

/** Which of the candidate states users see now; throws when it is none of them (or partial). */
function visibleState(candidates: Array<State | null>): State | null {
  if (!existsSync(host.secretsDir)) {
    expect(candidates, "secretsDir vanished although a generation was current").toContain(null);
    return null;
  }
  const target = readlinkSync(host.secretsDir);
  const files = readdirSync(target, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;
  for (const candidate of candidates) {
    if (candidate === null || files !== Object.keys(candidate).length) continue;
    if (Object.entries(candidate).every(([name, expected]) => matches(join(host.secretsDir, name), expected))) return candidate;
  }
  throw new Error(`${host.secretsDir} -> ${target} is not a complete generation of any expected state`);
}

function matches(path: string, expected: Expected): boolean {
  try {
    const info = lstatSync(path);
    return (
      info.isFile() &&
      info.uid === expected.uid &&
      info.gid === expected.gid &&
      (info.mode & 0o7777) === expected.mode &&
      TestHost.stripCanary(readFileSync(path, "utf8"), path) === expected.value
    );
  } catch {
    return false;
  }
}

/** The link containers read through (<mount>/current) also names a complete generation, when it exists. */
function checkCurrentLink(candidates: Array<State | null>): void {
  const link = join(host.mountPoint, "current");
  try {
    lstatSync(link); // a dangling link counts: containers would read ENOENT through it
  } catch {
    return;
  }
  const generation = join(host.mountPoint, readlinkSync(link));
  const complete = candidates.some((state) => state !== null && Object.entries(state).every(([name, expected]) => matches(join(generation, name), expected)));
  expect(complete, `${link} -> ${readlinkSync(link)} is not a complete generation`).toBe(true);
}

/** Custom paths: absent, or complete with the value of one of the states. */
function checkCustomPaths(candidates: Array<State | null>): void {
  for (const state of candidates) {
    for (const expected of Object.values(state ?? {})) {
      if (!expected.path || !existsSync(expected.path)) continue;
      const values = candidates.flatMap((candidate) =>
        Object.values(candidate ?? {})
          .filter((other) => other.path === expected.path)
          .map((other) => other.value),
      );
      const content = TestHost.stripCanary(readFileSync(expected.path, "utf8"), expected.path);
      expect(values, `${expected.path} holds neither old nor new value`).toContain(content);
      if (expected.copy) expect(lstatSync(expected.path).mode & 0o7777).toBe(expected.mode);
    }
  }
}

/**
 * No generations beyond those kept, and no temporaries. `declared`, the custom paths the
 * last run declared: when given, a temporary of a custom path outside it is not counted
 * (a known gap, pinned by the test "KNOWN GAP" below).
 */
function checkNoLeftovers(keepGenerations: number, declared?: ReadonlySet<string>): void {
  const generations = readdirSync(host.mountPoint).filter((name) => /^\d+$/.test(name));
  expect(generations.length).toBeLessThanOrEqual(keepGenerations + 1);
  for (const dir of [dirname(host.secretsDir), customDir, host.mountPoint]) {
    if (!existsSync(dir)) continue;
    const temporaries = readdirSync(dir).filter((name) => name.includes(".ageboot-"));
    const counted = dir !== customDir || declared === undefined ? temporaries : temporaries.filter((name) => declared.has(join(dir, temporaryOwner(name))));
    expect(counted, `temporaries in ${dir}`).toEqual([]);
  }
}

/** The name a temporary `.<name>.ageboot-<12 hex>` stands in for. */
function temporaryOwner(temporary: string): string {
  return temporary.replace(/^\./, "").replace(/\.ageboot-[0-9a-f]{12}$/, "");
}

/** The custom paths a version declares. */
function customPathsOf(version: Version): Set<string> {
  return new Set(Object.values(version.expected).flatMap((expected) => (expected.path ? [expected.path] : [])));
}

function stepsOf(scenario: Scenario): string[] {
  prepare(scenario);
  const countFile = join(host.root, "steps.txt");
  expect(activate(scenario.run, scenario.keepGenerations, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(0);
  return readFileSync(countFile, "utf8").trim().split("\n");
}

const report: string[] = [];
afterAll(() => {
  if (report.length) process.stderr.write(`crash consistency:\n  ${report.join("\n  ")}\n`);
});

describe("SIGKILL after every file-system step", () => {
  it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))(
    "%s",
    (_, scenario) => {
      const steps = stepsOf(scenario);
      expect(steps.length).toBeGreaterThan(5);
      const old = scenario.before.at(-1)?.expected ?? null;
      for (let step = 1; step <= steps.length; step++) {
        prepare(scenario);
        const killed = activate(scenario.run, scenario.keepGenerations, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) });
        expect(killed.signal, `step ${step} (${steps[step - 1]}) should have been killed`).toBe("SIGKILL");
        try {
          visibleState([old, scenario.run.expected]);
          checkCurrentLink([old, scenario.run.expected]);
          checkCustomPaths([old, scenario.run.expected]);
        } catch (error) {
          throw new Error(`after a kill at step ${step} (${steps[step - 1]}): ${(error as Error).message}`);
        }
        const next = activate(scenario.run, scenario.keepGenerations);
        expect(next.status, `run after a kill at step ${step}: ${next.stderr}`).toBe(0);
        expect(visibleState([scenario.run.expected])).toBe(scenario.run.expected);
        checkCustomPaths([scenario.run.expected]);
        checkNoLeftovers(scenario.keepGenerations);
      }
      report.push(`${scenario.name}: ${steps.length} kill points, all survived`);
    },
    600_000,
  );
});

describe("SIGKILL during the run that recovers from a kill", () => {
  it("killed between the two link swaps, then killed again at every step of the next run", () => {
    const scenario = scenarios[1]!;
    const steps = stepsOf(scenario);
    // The first "swap symlink" step makes <mount>/current new while secretsDir is still old.
    const betweenLinks = steps.indexOf("swap symlink") + 1;
    expect(betweenLinks).toBeGreaterThan(0);
    let halfSwapped: SavedState | undefined;
    const prepareHalfSwapped = () => {
      if (halfSwapped !== undefined) return savedStates.restore(halfSwapped);
      prepare(scenario);
      expect(activate(scenario.run, scenario.keepGenerations, { AGEBOOT_TEST_KILL_AFTER_STEP: String(betweenLinks) }).signal).toBe("SIGKILL");
      halfSwapped = savedStates.save("killed between the two link swaps");
    };
    prepareHalfSwapped();
    const countFile = join(host.root, "steps-recovery.txt");
    expect(activate(scenario.run, scenario.keepGenerations, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(0);
    const recoverySteps = readFileSync(countFile, "utf8").trim().split("\n");
    const old = scenario.before.at(-1)!.expected;
    for (let step = 1; step <= recoverySteps.length; step++) {
      prepareHalfSwapped();
      activate(scenario.run, scenario.keepGenerations, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) });
      try {
        visibleState([old, scenario.run.expected]);
        checkCurrentLink([old, scenario.run.expected]);
      } catch (error) {
        throw new Error(`second kill at step ${step} (${recoverySteps[step - 1]}): ${(error as Error).message}`);
      }
      expect(activate(scenario.run, scenario.keepGenerations).status).toBe(0);
      checkNoLeftovers(scenario.keepGenerations);
    }
    report.push(`kill during recovery: ${recoverySteps.length} kill points after a half-done swap, all survived`);
  }, 600_000);
});

describe("a temporary of a custom path that the next runs no longer declare", () => {
  // KNOWN GAP: a run killed after making the temporary of a custom path, before renaming
  // it, leaves it; the next run removes the temporaries of the custom paths it declares,
  // so one whose secret or template the manifest dropped stays (a symlink here; for a copy,
  // the copy). This test kills version f right after it made the temporary of only-f.env
  // (the last custom path it prepares), runs version e, and expects the temporary gone:
  // it fails until ageboot records the paths a run is about to prepare before it makes them.
  it.fails("KNOWN GAP: is removed by the next run (it is not yet)", () => {
    const [e, f] = templated;
    reset();
    expect(activate(e!, 1).status).toBe(0);
    const countFile = join(host.root, "steps-f.txt");
    expect(activate(f!, 1, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(0);
    expect(activate(e!, 1).status).toBe(0);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    const lastTemporary = steps.lastIndexOf("symlink custom path temporary") + 1;
    expect(lastTemporary).toBeGreaterThan(0);
    expect(activate(f!, 1, { AGEBOOT_TEST_KILL_AFTER_STEP: String(lastTemporary) }).signal).toBe("SIGKILL");
    expect(readdirSync(customDir).some((name) => name.startsWith(".only-f.env.ageboot-"))).toBe(true);
    expect(activate(e!, 1).status).toBe(0);
    checkNoLeftovers(1);
  }, 120_000);
});

describe("SIGKILL at random moments", () => {
  it("200 runs alternating two versions with templates, killed at random times", async () => {
    reset();
    const versions = templated;
    expect(activate(versions[0]!, 1).status).toBe(0);
    let current: State = versions[0]!.expected;
    let killedMidway = 0;
    for (let round = 0; round < 200; round++) {
      const next = versions[(round + 1) % 2]!;
      host.keepGenerations = 1;
      host.writeManifest(next.secrets, { templates: next.templates });
      const { child, exited } = startAgeboot(["activate", "--manifest", host.manifestPath]);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 250));
      child.kill("SIGKILL");
      if ((await exited).signal === "SIGKILL") killedMidway++;
      const seen = visibleState([current, next.expected]);
      // <mount>/current may still name the target of an earlier killed run (it is
      // swapped first): any complete generation of either version is right there.
      checkCurrentLink([versions[0]!.expected, versions[1]!.expected]);
      // Custom paths are replaced after the swap, so they too may hold the other
      // version's complete value until a run finishes (docs/reliability.md).
      checkCustomPaths([versions[0]!.expected, versions[1]!.expected]);
      current = seen ?? current;
    }
    // Then a clean run repairs whatever the last kill left (but for the known gap below).
    expect(activate(versions[0]!, 1).status).toBe(0);
    expect(visibleState([versions[0]!.expected])).toBe(versions[0]!.expected);
    checkNoLeftovers(1, customPathsOf(versions[0]!));
    report.push(`random kills: 200 runs, ${killedMidway} killed before they finished, all survived`);
    expect(killedMidway).toBeGreaterThan(50);
  }, 600_000);
});
