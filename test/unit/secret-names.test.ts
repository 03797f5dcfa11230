// Issue 12, item 10: a secret's name reaches log lines and error messages, so a
// manifest must not be able to make those lines say something else with
// invisible or bidirectional characters, or with two spellings of one name.
import { describe, expect, it } from "vitest";
import { printable } from "../../src/manifest/printable.js";
import { secretNameProblem, validateManifest } from "../../src/manifest/validate.js";

const spoofing: Array<[string, string]> = [
  ["right-to-left override", "invoice\u202Etxt.exe"],
  ["right-to-left isolate", "db\u2067password\u2069"],
  ["left-to-right mark", "db\u200Epassword"],
  ["zero-width space", "db\u200Bpassword"],
  ["zero-width joiner", "db\u200Dpassword"],
  ["word joiner", "db\u2060password"],
  ["byte order mark", "\uFEFFdb-password"],
  ["soft hyphen", "db\u00ADpassword"],
  ["line separator", "db\u2028password"],
  ["paragraph separator", "db\u2029password"],
  ["C1 control (NEL)", "db\u0085password"],
  ["lone surrogate", "db\uD800password"],
  ["decomposed e + combining acute (not NFC)", "cafe\u0301"],
  ["Hangul jamo (not NFC)", "\u1100\u1161"],
];

describe("secret names that could spoof a log line", () => {
  it.each(spoofing)("%s is refused", (_, name) => {
    expect(secretNameProblem(name)).not.toBeNull();
    const result = validateManifest({ version: 1, secrets: { [name]: { file: "/nix/store/x.age" } } });
    expect("problems" in result).toBe(true);
  });

  it("the refusal itself shows every such character escaped, never raw", () => {
    for (const [, name] of spoofing) {
      const result = validateManifest({ version: 1, secrets: { [name]: { file: "/nix/store/x.age" } } });
      const text = "problems" in result ? result.problems.join("\n") : "";
      expect(text).toContain("invalid name");
      expect(text).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
    }
    expect(printable("a\u202Eb")).toBe("a\\u202eb");
  });

  it("ordinary names, also outside ASCII when NFC, are accepted", () => {
    for (const name of ["db-password", "nested/dir/cert", "caf\u00e9", "日本語/鍵", "ключ", "emoji-🔑", "a b"]) {
      expect(secretNameProblem(name), name).toBeNull();
    }
  });
});
