// Content comparison while staging: equal only when every byte and the size match.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ContentComparison } from "../../src/activation/content-comparison.js";

const dir = mkdtempSync(join(tmpdir(), "ageboot-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compare(current: Buffer | null, chunks: Buffer[]): boolean {
  let path: string | null = null;
  if (current !== null) {
    path = join(dir, `current-${Math.random()}`);
    writeFileSync(path, current);
  }
  const comparison = new ContentComparison(
    path,
    chunks.reduce((size, chunk) => size + chunk.length, 0),
  );
  for (const chunk of chunks) comparison.update(chunk);
  return comparison.matches();
}

const big = Buffer.alloc(200 * 1024, 7);

describe("ContentComparison", () => {
  it.each([
    ["equal bytes in one chunk", Buffer.from("abc"), [Buffer.from("abc")], true],
    ["equal bytes in several chunks", big, [big.subarray(0, 65536), big.subarray(65536, 131072), big.subarray(131072)], true],
    ["the empty secret against an empty file", Buffer.alloc(0), [], true],
    ["one byte differs in the last chunk", big, [big.subarray(0, 131072), Buffer.concat([big.subarray(131072, -1), Buffer.from([8])])], false],
    ["a different size", Buffer.from("abcd"), [Buffer.from("abc")], false],
    ["no current file", null, [Buffer.from("abc")], false],
  ])("%s -> %s", (_, current, chunks, expected) => {
    expect(compare(current as Buffer | null, chunks as Buffer[])).toBe(expected);
  });

  it("a current path that does not exist is a new secret", () => {
    const comparison = new ContentComparison(join(dir, "missing"), 3);
    comparison.update(Buffer.from("abc"));
    expect(comparison.matches()).toBe(false);
  });
});
