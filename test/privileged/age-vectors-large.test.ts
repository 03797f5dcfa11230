// The three CCTV age test vectors of 16 MiB each (STREAM files of 257 and 258
// chunks: test/helpers/cctv-vectors.ts), decrypted in process like the others
// in test/unit/age-vectors.test.ts. They need no root and no tools, but they
// are here, beside the other large inputs: inflating and decrypting 50 MiB
// takes about a second of processor time, which the fast unit tier cannot afford.
import { describe, expect, it } from "vitest";
import { EXPECTED_LARGE, run, vectorTests } from "../helpers/cctv-vectors.js";

const large = run.filter((vector) => vector.large);

describe("CCTV age test vectors (cctv-age), the large ones", () => {
  it("are the ones the unit tier leaves out", () => {
    expect(large.map((vector) => vector.name)).toEqual(EXPECTED_LARGE);
    expect(large.every((vector) => vector.file.length > 16 * 1024 * 1024)).toBe(true);
  });

  vectorTests(large);
});
