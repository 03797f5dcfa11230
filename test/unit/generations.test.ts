// The generation layout on a plain directory: which one is current, what a
// leftover is, what pruning keeps, and that the links swap to the new one.
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CURRENT_LINK, Generations } from "../../src/activation/generations.js";

let root: string;
let mountPoint: string;
let secretsDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "ageboot-generations-"));
  mountPoint = join(root, "agenix.d");
  secretsDir = join(root, "agenix");
  mkdirSync(mountPoint);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Generation directories `numbers`, secretsDir -> `current`, and <mountPoint>/current -> `containerLink`. */
function layout(numbers: number[], current: number | null, containerLink: number | null = current): Generations {
  for (const number of numbers) mkdirSync(join(mountPoint, String(number)));
  if (current !== null) symlinkSync(join(mountPoint, String(current)), secretsDir);
  if (containerLink !== null) symlinkSync(String(containerLink), join(mountPoint, CURRENT_LINK));
  return Generations.read(mountPoint, secretsDir);
}

const remaining = () =>
  readdirSync(mountPoint)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);

describe("Generations", () => {
  it.each([
    { numbers: [], current: null, next: 1 },
    { numbers: [1], current: 1, next: 2 },
    { numbers: [3, 4, 7], current: 4, next: 8 },
    { numbers: [2, 10], current: 10, next: 11 },
  ])("with $numbers and current $current, the next generation is $next", ({ numbers, current, next }) => {
    const generations = layout(numbers, current);
    expect(generations.current).toBe(current);
    expect(generations.next).toBe(next);
    expect(generations.existing).toEqual(numbers);
  });

  it("ignores names that are not generation numbers, and a link to something else", () => {
    for (const name of ["01", "0", "x", "12a", ".5"]) mkdirSync(join(mountPoint, name));
    mkdirSync(join(root, "elsewhere"));
    symlinkSync(join(root, "elsewhere"), secretsDir);
    const generations = Generations.read(mountPoint, secretsDir);
    expect(generations.existing).toEqual([]);
    expect(generations.current).toBeNull();
  });

  it("only safe integers are generations: a 16-digit name above 2^53 - 1 is ignored, so the current one stays current and next follows it", () => {
    // 9999999999999999 would make next a 17-digit name, unrecognised by every later run;
    // 9007199254740992 would make next round to itself (EEXIST on every later run).
    for (const name of ["9999999999999999", "9007199254740992", "9007199254740993"]) mkdirSync(join(mountPoint, name));
    const generations = layout([3], 3);
    expect(generations.existing).toEqual([3]);
    expect(generations.next).toBe(4);
    expect(generations.removeLeftovers()).toEqual([]);
    expect(readdirSync(mountPoint).sort()).toEqual(["3", "9007199254740992", "9007199254740993", "9999999999999999", CURRENT_LINK].sort());
  });

  it("the largest safe integer is a generation, and no generation follows it: a SETUP error (exit 5) naming it", () => {
    const generations = layout([2, Number.MAX_SAFE_INTEGER], Number.MAX_SAFE_INTEGER);
    expect(generations.current).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => generations.next).toThrow(
      expect.objectContaining({ code: "SETUP", message: expect.stringContaining(`${join(mountPoint, "9007199254740991")}: generation 9007199254740991 is the highest`) }),
    );
  });

  it("an untrusted entry (writable by others, as a user's planted in a 1777 root) is never counted: numbering follows the trusted ones and skips its number (reatk N5)", () => {
    for (const name of ["2", "9007199254740991"]) {
      mkdirSync(join(mountPoint, name));
      chmodSync(join(mountPoint, name), 0o777);
    }
    const generations = layout([1], 1);
    expect(generations.existing).toEqual([1]);
    expect(generations.next).toBe(3);
  });

  it("a run of untrusted entries after the highest generation is skipped only so far: a SETUP error naming the mount, never an endless search", () => {
    for (let number = 2; number <= 1001; number++) {
      mkdirSync(join(mountPoint, String(number)));
      chmodSync(join(mountPoint, String(number)), 0o777);
    }
    const generations = layout([1], 1);
    expect(() => generations.next).toThrow(expect.objectContaining({ code: "SETUP", message: expect.stringContaining("are all taken by entries that are not ageboot's") }));
    rmSync(join(mountPoint, "1001"), { recursive: true });
    expect(Generations.read(mountPoint, secretsDir).next).toBe(1001);
  });

  it("a link to a generation that does not exist names no current generation", () => {
    expect(layout([1], 1).current).toBe(1);
    rmSync(join(mountPoint, "1"), { recursive: true });
    expect(Generations.read(mountPoint, secretsDir).current).toBeNull();
  });

  it.each([
    ["a real directory", () => mkdirSync(secretsDir)],
    ["a regular file", () => writeFileSync(secretsDir, "")],
  ])("refuses %s at secretsDir (agenix#291) with a SETUP error", (_, make) => {
    make();
    expect(() => Generations.read(mountPoint, secretsDir)).toThrow(expect.objectContaining({ code: "SETUP", message: expect.stringContaining("agenix#291") }));
  });

  it.each([
    { numbers: [1, 2, 3], current: 2, link: 2, removed: [3], kept: [1, 2] },
    { numbers: [1, 2], current: null, link: null, removed: [1, 2], kept: [] },
    // A run killed between the two links: `current` is one ahead of secretsDir, and both stay.
    { numbers: [4, 5], current: 4, link: 5, removed: [], kept: [4, 5] },
    { numbers: [4, 5, 6], current: 4, link: 5, removed: [6], kept: [4, 5] },
  ])("removes leftovers $removed of $numbers (current $current, container link $link)", ({ numbers, current, link, removed, kept }) => {
    expect(layout(numbers, current, link).removeLeftovers()).toEqual(removed);
    expect(remaining()).toEqual(kept);
  });

  it.each([
    { numbers: [1, 2, 3, 4], current: 4, keep: 1, removed: [1, 2] },
    { numbers: [1, 2, 3, 4], current: 4, keep: 0, removed: [1, 2, 3] },
    { numbers: [1, 2, 3, 4], current: 4, keep: 5, removed: [] },
    { numbers: [2, 9], current: 9, keep: 1, removed: [] },
  ])("prune keeps $keep before $current of $numbers", ({ numbers, current, keep, removed }) => {
    expect(layout(numbers, current).prune(current, keep)).toEqual(removed);
    expect(remaining()).toEqual(numbers.filter((number) => !removed.includes(number)));
  });

  it("creates a generation and makes it current through both links", () => {
    const generations = layout([1], 1);
    const directory = generations.create(generations.next);
    expect(directory).toBe(join(mountPoint, "2"));
    generations.makeCurrent(2);
    expect(readlinkSync(secretsDir)).toBe(join(mountPoint, "2"));
    expect(readlinkSync(join(mountPoint, CURRENT_LINK))).toBe("2");
    expect(Generations.read(mountPoint, secretsDir).current).toBe(2);
  });

  it("discards a generation with what it holds", () => {
    const generations = layout([1], 1);
    const directory = generations.create(2);
    writeFileSync(join(directory, "secret"), "x");
    generations.discard(2);
    expect(remaining()).toEqual([1]);
  });
});
