// The streaming ASCII armor decoder (src/age/armor-decoder.ts) against
// age-encryption's armor.decode, the reference it replaces: every CCTV
// armored vector and random (mutated) armor, fed whole and in pieces of
// every awkward size, must be accepted or refused as the reference does, with
// the same bytes. That a large armored file, streamed in two passes, decrypts
// to its plaintext or fails MALFORMED before any plaintext exists is in
// test/privileged/armor-large-file.test.ts (6 MiB: too slow for this tier).
import { armor } from "age-encryption";
import * as cctv from "cctv-age";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ArmorDecoder } from "../../src/age/armor-decoder.js";
import { AgebootError } from "../../src/errors.js";

/**
 * The fast tier runs a tenth of each property's full count (and at least `least`);
 * `npm test` (scripts/run-tests.sh, what CI runs) sets AGEBOOT_PROPERTY_RUNS_SCALE=1.
 */
const propertyScale = Number(process.env["AGEBOOT_PROPERTY_RUNS_SCALE"] ?? 0.1);
function propertyRuns(full: number, least = 20): number {
  return Math.max(least, Math.ceil(full * propertyScale));
}

type Decoded = { ok: true; bytes: Buffer } | { ok: false; message: string };

/** ageboot's decoder, fed `armored` in pieces of `pieceSize` bytes (0: whole). */
function decodeInPieces(armored: Buffer, pieceSize: number): Decoded {
  const pieces: Buffer[] = [];
  const decoder = new ArmorDecoder((piece) => pieces.push(Buffer.from(piece)));
  try {
    if (pieceSize === 0) decoder.push(armored);
    else for (let start = 0; start < armored.length; start += pieceSize) decoder.push(armored.subarray(start, start + pieceSize));
    decoder.end();
    return { ok: true, bytes: Buffer.concat(pieces) };
  } catch (error) {
    if (!(error instanceof AgebootError) || error.code !== "MALFORMED") throw error;
    return { ok: false, message: error.message };
  }
}

/** The reference, on the file as text (latin1: one character per byte). */
function referenceDecode(armored: Buffer): Decoded {
  try {
    return { ok: true, bytes: Buffer.from(armor.decode(armored.toString("latin1"))) };
  } catch (error) {
    return { ok: false, message: String(error) };
  }
}

/**
 * Feeding one byte at a time is most of this file's time: the fast tier feeds each
 * way once (whole, 1, 3, around a line's 64 columns, large), CI every way.
 */
const PIECE_SIZES = propertyScale >= 1 ? [0, 1, 2, 3, 7, 33, 64, 65, 66, 67, 4096] : [0, 1, 3, 65, 4096];

function expectSameAsReference(armored: Buffer, what: string): void {
  const reference = referenceDecode(armored);
  for (const pieceSize of PIECE_SIZES) {
    const ours = decodeInPieces(armored, pieceSize);
    expect(ours.ok, `${what}, pieces of ${pieceSize}: ${ours.ok ? "accepted" : ours.message}; reference: ${reference.ok ? "accepted" : reference.message}`).toBe(reference.ok);
    if (ours.ok && reference.ok) expect(ours.bytes.equals(reference.bytes), `${what}, pieces of ${pieceSize}: different bytes`).toBe(true);
  }
}

/** `armored` with the byte at `index` replaced by `value`, `value` inserted before it, or it removed. */
function editOneByte(armored: Buffer, index: number, value: number, edit: "replace" | "insert" | "remove"): Buffer {
  const before = armored.subarray(0, index);
  if (edit === "replace") return Buffer.concat([before, Buffer.from([value]), armored.subarray(index + 1)]);
  if (edit === "insert") return Buffer.concat([before, Buffer.from([value]), armored.subarray(index)]);
  return Buffer.concat([before, armored.subarray(index + 1)]);
}

/** The age files of the CCTV vectors marked armored. */
const armoredVectors = Object.entries(cctv as Record<string, Uint8Array>).flatMap(([name, bytes]) => {
  const buffer = Buffer.from(bytes);
  const separator = buffer.indexOf("\n\n");
  const header = buffer.subarray(0, separator).toString("utf8");
  if (!/^armored: yes$/m.test(header)) return [];
  const body = buffer.subarray(separator + 2);
  return [{ name, file: /^compressed: zlib$/m.test(header) ? inflateSync(body) : body }];
});

describe("the streaming armor decoder agrees with age-encryption's armor.decode", () => {
  it("on every armored CCTV vector, whole and in pieces", () => {
    expect(armoredVectors.length).toBeGreaterThan(20);
    for (const { name, file } of armoredVectors) expectSameAsReference(file, name);
  });

  it("on random armor, LF or CRLF, with white space around it", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400, size: "max" }), fc.boolean(), fc.constantFrom("", " \n", "\r\n\t ", "\n\n\n"), (bytes, crlf, space) => {
        const text = armor.encode(bytes);
        const armored = Buffer.from(`${space}${crlf ? text.replaceAll("\n", "\r\n") : text}${space}`, "latin1");
        expectSameAsReference(armored, "random armor");
        expect(decodeInPieces(armored, 0)).toEqual({ ok: true, bytes: Buffer.from(bytes) });
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it("on random armor with one byte changed, inserted or removed", () => {
    // 0xA0 is left out: the reference reads the file as text, where it is a
    // no-break space that trim() removes; ageboot allows ASCII white space only.
    const byte = fc.integer({ min: 0, max: 255 }).filter((value) => value !== 0xa0);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200, size: "max" }), fc.nat(), byte, fc.constantFrom("replace", "insert", "remove"), (bytes, at, value, edit) => {
        const armored = Buffer.from(armor.encode(bytes), "latin1");
        const index = at % armored.length;
        const edited = editOneByte(armored, index, value, edit);
        expectSameAsReference(edited, `${edit} ${value} at ${index}`);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });

  it("on large armor with one byte changed: the native fast path for runs of full lines refuses what the reference refuses", () => {
    // Over 1000 lines, so that the fast path's runs (src/age/armor-decoder.ts) meet each other and a piece boundary.
    const byte = fc.integer({ min: 0, max: 255 }).filter((value) => value !== 0xa0);
    fc.assert(
      fc.property(fc.integer({ min: 48 * 900, max: 48 * 2100 }), fc.nat(), byte, fc.constantFrom("replace", "insert", "remove"), (size, at, value, edit) => {
        const armored = Buffer.from(armor.encode(randomBytes(size)), "latin1");
        const index = at % armored.length;
        const edited = editOneByte(armored, index, value, edit);
        const reference = referenceDecode(edited);
        for (const pieceSize of [0, 65_000, 1024 * 1024]) {
          const ours = decodeInPieces(edited, pieceSize);
          expect(ours.ok, `${edit} ${value} at ${index}, pieces of ${pieceSize}`).toBe(reference.ok);
          if (ours.ok && reference.ok) expect(ours.bytes.equals(reference.bytes)).toBe(true);
        }
      }),
      // Each run decodes up to 130 KB of armor four ways: 4 runs in the fast tier, 40 in CI.
      { numRuns: propertyRuns(40, 4) },
    );
  }, 60_000);

  it("on armor wrapped at any width, not only 64 columns", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400, size: "max" }), fc.integer({ min: 1, max: 100 }), (bytes, width) => {
        const base64 = Buffer.from(bytes).toString("base64");
        const lines = base64.match(new RegExp(`.{1,${width}}`, "g")) ?? [];
        const armored = Buffer.from(`-----BEGIN AGE ENCRYPTED FILE-----\n${lines.join("\n")}\n-----END AGE ENCRYPTED FILE-----\n`, "latin1");
        expectSameAsReference(armored, `wrapped at ${width}`);
      }),
      { numRuns: propertyRuns(500) },
    );
  });

  it("keeps memory bounded: a line that never ends is refused once it is longer than a line can be", () => {
    const decoder = new ArmorDecoder(() => {});
    decoder.push(Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    expect(() => {
      for (let index = 0; index < 1000; index++) decoder.push(Buffer.alloc(1024, "A"));
    }).toThrow(/line 2: a line longer than 64 columns/);
  });
});
