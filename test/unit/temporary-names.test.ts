// Temporaries left by a killed run are found by name and removed, and nothing else is:
// the directory may be a user's, with any number of entries, read as a stream.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { removeStaleTemporariesIn, temporaryBaseNameFor } from "../../src/activation/temporary-names.js";

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "ageboot-temporaries-"));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

it("removes the temporaries of one name among hundreds of other entries (more than one read of the directory stream), and only those", () => {
  const others = Array.from({ length: 300 }, (_, index) => `entry-${index}`);
  const stale = Array.from({ length: 40 }, () => temporaryBaseNameFor("token"));
  const lookalikes = [".token.ageboot-", ".token.ageboot-0123456789ab.x", ".token.ageboot-0123456789AB", ".tokens.ageboot-0123456789ab", temporaryBaseNameFor("other")];
  for (const name of [...others, ...stale, ...lookalikes, "token"]) writeFileSync(join(directory, name), "");
  removeStaleTemporariesIn(directory, "token");
  expect(readdirSync(directory).sort()).toEqual([...others, ...lookalikes, "token"].sort());
});

it("a directory that is not there is nothing to clean", () => {
  expect(() => removeStaleTemporariesIn(join(directory, "missing"), "token")).not.toThrow();
});
