// Which units a run restarts and reloads, from the outcomes' changes and the previous generation's record.
import { describe, expect, it } from "vitest";
import { unitsToNotify, type UnitsOfOutcome } from "../../src/activation/units-step.js";

const item = (name: string, change: UnitsOfOutcome["change"], restartUnits: string[] = [], reloadUnits: string[] = []): UnitsOfOutcome => ({
  name,
  change,
  restartUnits,
  reloadUnits,
});

describe("unitsToNotify", () => {
  it.each([
    ["added restarts", [item("a", "added", ["a.service"])], [], { restart: ["a.service"], reload: [] }],
    ["changed reloads", [item("a", "changed", [], ["a.service"])], [], { restart: [], reload: ["a.service"] }],
    ["unchanged does nothing", [item("a", "unchanged", ["a.service"], ["b.service"])], [], { restart: [], reload: [] }],
    ["failed does nothing", [item("a", null, ["a.service"])], [], { restart: [], reload: [] }],
    ["each unit once, sorted", [item("b", "changed", ["z.service", "m.service"]), item("a", "added", ["m.service"])], [], { restart: ["m.service", "z.service"], reload: [] }],
    [
      "a restarted unit is not also reloaded",
      [item("a", "changed", ["x.service"]), item("b", "changed", [], ["x.service", "y.service"])],
      [],
      { restart: ["x.service"], reload: ["y.service"] },
    ],
    ["removed: the units the previous record names", [], ["old"], { restart: ["old.service"], reload: ["old-reload.service"] }],
    ["removed without a record entry: nothing", [], ["unknown"], { restart: [], reload: [] }],
  ] as const)("%s", (_, outcomes, removed, expected) => {
    const previous = new Map([["old", { restart: ["old.service"], reload: ["old-reload.service"] }]]);
    expect(unitsToNotify(outcomes, removed, previous)).toEqual(expected);
  });
});
