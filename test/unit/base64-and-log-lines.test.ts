// Pure logic: no root, no network, no external tools.
import { describe, expect, it } from "vitest";
import { decodeCanonicalBase64, encodeBase64NoPad } from "../../src/age/base64.js";
import { formatTextLine } from "../../src/log.js";

describe("canonical base64", () => {
  it("round-trips unpadded base64 of every length", () => {
    for (let length = 0; length < 70; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + length) & 0xff));
      expect(decodeCanonicalBase64(encodeBase64NoPad(bytes))?.equals(bytes)).toBe(true);
    }
  });

  it.each([
    ["padding", "AA=="],
    ["URL alphabet", "-_8"],
    ["whitespace", "AAAA AAAA"],
    ["impossible length", "AAAAA"],
    ["non-zero trailing bits", "AB"],
    ["newline", "AAAA\n"],
  ])("rejects %s", (_, text) => {
    expect(decodeCanonicalBase64(text)).toBeNull();
  });
});

describe("log lines", () => {
  it("carry sd-daemon priorities under the journal", () => {
    expect(formatTextLine({ level: 50, msg: "boom", time: 1 }, true)).toBe("<3>boom\n");
    expect(formatTextLine({ level: 40, msg: "careful" }, true)).toBe("<4>careful\n");
    expect(formatTextLine({ level: 30, msg: "fine", generation: 13 }, true)).toBe("<6>fine generation=13\n");
    expect(formatTextLine({ level: 20, msg: "detail" }, true)).toBe("<7>detail\n");
  });

  it("are prefixed with the program and level on a terminal, quoting values with spaces", () => {
    expect(formatTextLine({ level: 40, msg: "careful", path: "/a b" }, false)).toBe('ageboot: warning: careful path="/a b"\n');
    expect(formatTextLine({ level: 30, msg: "done", changed: ["a", "b c"] }, false)).toBe('ageboot: info: done changed="a,b c"\n');
  });
});
