// The whole activation in process, on a plain directory, without root: what
// the summary, the change report and the failure policy say, secret by secret.
import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { summarize } from "../../src/activation/report.js";
import { InProcessHost } from "../helpers/in-process-host.js";

let host: InProcessHost;
beforeEach(async () => (host = await InProcessHost.create()));
afterEach(() => host.cleanup());

describe("the report of a run", () => {
  it("classifies every secret added, changed, unchanged or removed against the current generation", async () => {
    const first = await host.activate({ a: { file: await host.encrypt("a1") }, b: { file: await host.encrypt("b1") }, gone: { file: await host.encrypt("x") } });
    expect(first.headline).toBe("generation 1 is current: 3 added, 0 changed, 0 removed, 0 unchanged, 0 failed");
    const second = await host.activate({ a: { file: await host.encrypt("a1") }, b: { file: await host.encrypt("b2") }, c: { file: await host.encrypt("c1") } });
    expect(summarize(second)).toMatchObject({ added: ["c"], changed: ["b"], unchanged: ["a"], removed: ["gone"], failures: [] });
    expect(second.headline).toBe("generation 2 is current: 1 added, 1 changed, 1 removed, 1 unchanged, 0 failed");
    expect(host.read("b")).toBe("b2");
  });

  it("a changed mode alone is a change", async () => {
    const file = await host.encrypt("same");
    await host.activate({ a: { file } });
    const second = await host.activate({ a: { file, mode: "0440" } });
    expect(summarize(second).changed).toEqual(["a"]);
  });

  it("a dry run with a failing secret names it failed, never removed, and counts the unchanged ones", async () => {
    const fileA = await host.encrypt("a");
    const fileB = await host.encrypt("b");
    await host.activate({ a: { file: fileA }, b: { file: fileB } });
    rmSync(fileA);
    const dry = await host.activate({ a: { file: fileA }, b: { file: fileB } }, { dryRun: true });
    expect(summarize(dry)).toMatchObject({ added: [], changed: [], unchanged: ["b"], removed: [], failures: [{ name: "a", code: "PLAN" }] });
    expect(dry.headline).toBe("dry run: would install 0 added, 0 changed, 0 removed, 1 unchanged, 1 failed; current generation 1");
    expect(dry.installed).toBe(false);
  });

  it("a run that fails keeps the current generation and still counts what was unchanged", async () => {
    const fileA = await host.encrypt("a");
    const fileB = await host.encrypt("b");
    await host.activate({ a: { file: fileA }, b: { file: fileB } });
    rmSync(fileA);
    const failed = await host.activate({ a: { file: fileA }, b: { file: fileB }, c: { file: await host.encrypt("c") } });
    expect(failed.installed).toBe(false);
    expect(failed.generation).toBe(1);
    expect(summarize(failed)).toMatchObject({ added: ["c"], unchanged: ["b"], failures: [{ name: "a" }] });
    expect(failed.headline).toBe("nothing changed, generation 1 stays current; the new generation was discarded: 1 added, 0 changed, 0 removed, 1 unchanged, 1 failed");
    expect(host.read("a")).toBe("a");
  });

  it("on the first run, the secrets that decrypt are installed and the failure is still reported", async () => {
    const result = await host.activate({ good: { file: await host.encrypt("g") }, missing: { file: `${host.root}/nope.age` } });
    expect(result.installed).toBe(true);
    expect(summarize(result)).toMatchObject({ added: ["good"], failures: [{ name: "missing", code: "PLAN", message: expect.stringContaining("does not exist") }] });
    expect(host.read("good")).toBe("g");
  });

  it("keeps one outcome per declared secret, in manifest order", async () => {
    const result = await host.activate({ z: { file: await host.encrypt("z") }, a: { file: `${host.root}/nope.age` }, m: { file: await host.encrypt("m") } });
    expect(result.outcomes.map((outcome) => [outcome.name, outcome.change, outcome.failed?.code ?? null])).toEqual([
      ["z", "added", null],
      ["a", null, "PLAN"],
      ["m", "added", null],
    ]);
  });
});
