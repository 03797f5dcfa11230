// The hostile manifest corpus, in process: each document is rejected by the
// loader the CLI uses, as MANIFEST (exit 4), with a message that names the file
// and carries no stack trace. test/privileged/hostile.test.ts runs the
// resource attacks among them through the CLI on a real host.
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AgebootError } from "../../src/errors.js";
import { exitCodeFor } from "../../src/exit-codes.js";
import { loadManifest } from "../../src/manifest/load.js";
import { hostileManifests } from "../helpers/hostile-manifests.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

async function rejectionOf(path: string): Promise<AgebootError> {
  const error = await loadManifest(path).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AgebootError);
  const rejection = error as AgebootError;
  expect(rejection.code).toBe("MANIFEST");
  expect(exitCodeFor(rejection.code)).toBe(4);
  expect(rejection.message.startsWith(`${path}: `), rejection.message.slice(0, 200)).toBe(true);
  expect(rejection.message).not.toMatch(/\n\s+at /); // no stack trace
  return rejection;
}

describe("hostile manifests", () => {
  it("covers the whole corpus", () => expect(hostileManifests.length).toBeGreaterThanOrEqual(16));

  it.each(hostileManifests)("%s -> MANIFEST", async (_, make) => {
    const path = join(dir, "hostile-manifest.yaml");
    writeFileSync(path, make());
    await rejectionOf(path);
  });

  it("a manifest larger than 64 MiB -> MANIFEST, refused by its size", async () => {
    const path = join(dir, "huge-manifest.json");
    writeFileSync(path, "");
    truncateSync(path, 65 * 1024 * 1024);
    expect((await rejectionOf(path)).message).toContain("larger than 67108864 bytes");
  });
});
