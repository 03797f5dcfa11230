// Fast tier: in process, no root, no external tools, no network.
//
// The C2SP CCTV age test vectors, from the `cctv-age` package
// (test/helpers/cctv-vectors.ts): every vector ageboot runs, but the three
// large ones, which test/privileged/age-vectors-large.test.ts runs.
import { describe, expect, it } from "vitest";
import { decryptAgeBytes } from "../helpers/age-decrypt-adapter.js";
import { EXPECTED_LARGE, EXPECTED_SKIPPED, EXPECTED_TOTAL, KNOWN_DIVERGENCES, RELEASES_FEWER_CHUNKS, run, skipped, vectorTests, vectors } from "../helpers/cctv-vectors.js";

describe("CCTV age test vectors (cctv-age)", () => {
  it("are all accounted for: run (here, or the large ones in the privileged tier), skipped with a reason, or a known divergence", () => {
    expect(vectors.length).toBe(EXPECTED_TOTAL);
    expect(skipped.length).toBe(EXPECTED_SKIPPED);
    expect(run.length + skipped.length).toBe(vectors.length);
    expect(
      run.filter((vector) => vector.large).map((vector) => vector.name),
      "the large vectors test/privileged/age-vectors-large.test.ts runs",
    ).toEqual(EXPECTED_LARGE);
    const runNames = new Set(run.map((vector) => vector.name));
    const payloadFailures = new Set(run.filter((vector) => vector.expect === "payload failure").map((vector) => vector.name));
    expect(
      Object.keys(KNOWN_DIVERGENCES).filter((name) => !runNames.has(name)),
      "divergences that name no vector run",
    ).toEqual([]);
    expect(
      Object.keys(RELEASES_FEWER_CHUNKS).filter((name) => !payloadFailures.has(name)),
      "entries that name no payload failure run",
    ).toEqual([]);
  });

  // The three of 16 MiB run in the privileged tier (test/privileged/age-vectors-large.test.ts).
  vectorTests(run.filter((vector) => !vector.large));

  for (const { vector, reason } of skipped) it.skip(`${vector.name}: ${vector.expect}: skipped: ${reason}`, () => {});

  it("skipped passphrase files are still refused: ageboot never decrypts them with no passphrase", async () => {
    for (const { vector } of skipped.filter(({ vector }) => vector.passphrases.length > 0)) {
      const result = await decryptAgeBytes(vector.file, "");
      expect(result.ok, vector.name).toBe(false);
    }
  });
});
