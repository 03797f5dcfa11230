// Names reach log lines from hostile places (files on the mount, manifests):
// one record must stay one line, under the journal and on a terminal.
import { describe, expect, it } from "vitest";
import { escapeControlCharacters, formatTextLine } from "../../src/log.js";

describe("log lines escape control characters", () => {
  it("a name holding a newline and a priority prefix cannot forge a journal line", () => {
    const line = formatTextLine({ level: 40, msg: "largest files: 1/evil\n<3>forged error", path: "a\nb" }, true);
    expect(line).toBe('<4>largest files: 1/evil\\n<3>forged error path="a\\nb"\n');
    expect(line.split("\n")).toHaveLength(2);
  });

  it("C0, DEL and U+2028/2029 are escaped in messages and fields; other text is left alone", () => {
    expect(escapeControlCharacters("a\u0000b\u001b[31mc\u007fd\u2028e\u2029f\tg\rh é ✓")).toBe("a\\x00b\\x1b[31mc\\x7fd\\u2028e\\u2029f\\tg\\x0dh é ✓");
    const line = formatTextLine({ level: 30, msg: "x\u2028y", names: ["p\u007fq", "r"] }, false);
    expect(line).toBe("ageboot: info: x\\u2028y names=p\\x7fq,r\n");
  });
});
