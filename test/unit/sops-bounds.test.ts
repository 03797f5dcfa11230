// The bounds of src/sops/limits.ts, each just past its value, and what the
// bounded readers must still do as sops does: duplicate keys refused, aliases
// expanded from the last anchor before them, INI's later key winning, and a
// file whose own age entry comes first opening however many foreign stanzas
// follow. The 16 MiB bombs themselves go through the CLI in the privileged
// tier (test/privileged/hostile.test.ts, hostile-sops-first-boot.test.ts).
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { createHash, randomBytes } from "node:crypto";
import { openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { unwrapDataKey } from "../../src/sops/data-key.js";
import { parseSopsDocument, type SopsFormat } from "../../src/sops/document.js";
import { describePath } from "../../src/sops/decrypt-tree.js";
import { SOPS_LIMITS } from "../../src/sops/limits.js";
import type { SopsMetadata } from "../../src/sops/metadata.js";
import { parseIni } from "../../src/sops/parse-flat.js";
import { parseYamlDocuments } from "../../src/sops/parse-yaml.js";
import { newCommentLevel, selector } from "../../src/sops/selection.js";
import { entries } from "../../src/sops/tree.js";
import { SopsSession } from "../../src/sops/session.js";
import { ageFileWithStanzas, hostileStanzas } from "../helpers/hostile-headers.js";
import { craftBinary, craftYaml, encryptTree, sealValue } from "../helpers/sops-craft.js";
import { tempDir } from "../helpers/temp-dir.js";

function refusal(text: string, format: SopsFormat = "yaml"): string {
  try {
    parseSopsDocument(text, format);
  } catch (error) {
    expect(error).toBeInstanceOf(AgebootError);
    expect((error as AgebootError).code).toBe("MALFORMED");
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}

const lines = (count: number, line: (index: number) => string) => Array.from({ length: count }, (_, index) => line(index)).join("");

describe("sops parse bounds, each just past its value", () => {
  it.each([
    ["YAML lexemes", () => `a:\n${"- 1\n".repeat(SOPS_LIMITS.yamlLexemes / 3)}`, "YAML tokens"],
    ["YAML flow collections", () => `a: [${"[],".repeat(SOPS_LIMITS.yamlFlowCollections)}]\n`, "flow collections"],
    ["YAML document markers", () => "---\na: 1\n".repeat(SOPS_LIMITS.yamlDocuments + 1), "document markers"],
    ["YAML anchors", () => `a:\n${lines(SOPS_LIMITS.yamlAnchors + 1, (index) => `- &a${index} x\n`)}`, "anchors"],
    ["YAML aliases", () => `a: &a x\nb:\n${"- *a\n".repeat(SOPS_LIMITS.yamlAliases + 1)}`, "aliases"],
    ["YAML lines (one block scalar)", () => `a: |\n${"  x\n".repeat(SOPS_LIMITS.yamlLines)}`, "YAML lines"],
    ["YAML double-quoted bytes", () => `a: "${"x".repeat(SOPS_LIMITS.yamlDoubleQuotedBytes)}"\n`, "double-quoted text"],
    ["YAML block nesting", () => lines(SOPS_LIMITS.depth + 2, (index) => `${" ".repeat(index)}k:\n`), "nested deeper"],
    ["YAML flow nesting", () => `a: ${"[".repeat(SOPS_LIMITS.depth + 2)}`, "nested deeper"],
    ["YAML alias expansion", () => `a: &a [${"x,".repeat(999)}x]\nb: [${"*a,".repeat(SOPS_LIMITS.nodes / 1000)}*a]\n`, "keys, values and comments"],
    // Each alias is charged its anchor's characters: 17 expansions of a 1 MiB scalar pass the 16 Mi bound.
    ["YAML alias expansion of characters", () => `a: &a ${"x".repeat(SOPS_LIMITS.treeChars / 16)}\nb: [${"*a,".repeat(16)}*a]\n`, "characters (YAML aliases counted"],
    [
      "YAML nested alias expansion of characters",
      () => `a: &a ${"x".repeat(1024 * 1024)}\nb: &b [${"*a,".repeat(3)}*a]\nc: [${"*b,".repeat(3)}*b]\n`,
      "characters (YAML aliases counted",
    ],
  ] as const)("%s", (_, make, message) => {
    expect(refusal(make())).toContain(message);
  });

  it.each([
    ["dotenv lines", "dotenv", () => "a=b\n".repeat(SOPS_LIMITS.nodes + 1)],
    ["INI keys", "ini", () => `[s]\n${lines(SOPS_LIMITS.nodes, (index) => `k${index}=v\n`)}`],
    ["INI lines of one multi-line value", "ini", () => `k = """${"x\n".repeat(SOPS_LIMITS.nodes)}"""\n`],
    ["JSON items", "json", () => `{"a":[${"1,".repeat(SOPS_LIMITS.nodes)}1]}`],
  ] as const)("%s", (_, format, make) => {
    expect(refusal(make(), format)).toContain("keys, values and comments");
  });

  it("stops at the first YAML error, with its line", () => {
    expect(refusal(`a: 1\nb: [${"{}".repeat(100_000)}]\n`)).toMatch(/^not valid YAML \(line 2\): /);
  });
});

describe("what the bounded readers still do as sops does", () => {
  it("refuses duplicate YAML keys in one mapping, and allows the same key in two", () => {
    expect(refusal("a: 1\nb: 2\na: 3\n")).toContain('the key "a" appears twice');
    expect(refusal('x:\n  a: 1\n  "a": 2\n')).toContain('the key "a" appears twice');
    const [branch] = parseYamlDocuments("x:\n  a: 1\ny:\n  a: 2\n");
    expect(entries(branch!).map((entry) => entry.key)).toEqual(["x", "y"]);
  });

  it("expands an alias from the last anchor before it, and refuses one with no anchor", () => {
    const [branch] = parseYamlDocuments("a: &v first\nb: *v\nc: &v second\nd: *v\n");
    expect(entries(branch!).map((entry) => (entry.value.kind === "scalar" ? entry.value.text : ""))).toEqual(["first", "first", "second", "second"]);
    expect(refusal("a: *nowhere\n")).toContain("the alias *nowhere has no anchor before it");
  });

  it("keeps INI's later value for a repeated key, in the first one's place, per section", () => {
    const sections = entries(parseIni("[s]\na = 1\nb = 2\na = 3\n[t]\na = 4\n")).map((section) => [
      section.key,
      section.value.kind === "map" ? entries(section.value).map((entry) => `${entry.key}=${entry.value.kind === "scalar" ? entry.value.text : ""}`) : [],
    ]);
    expect(sections).toEqual([
      ["DEFAULT", []],
      ["s", ["a=3", "b=2"]],
      ["t", ["a=4"]],
    ]);
  });
});

describe("one stanza budget per sops file", () => {
  let identities: LoadedIdentity[];
  let recipient: string;
  beforeAll(async () => {
    const identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    identities = (await identitiesFromAgeFile(`${identity}\n`, "/test/host-key.txt")).identities;
  });

  const foreign = (stanzas: number) => ({ recipient: "age1foreign", enc: armor.encode(ageFileWithStanzas(hostileStanzas("X25519", stanzas))) });
  const metadata = (age: SopsMetadata["keyGroups"][number]["age"]): SopsMetadata => ({
    keyGroups: [{ age, otherKinds: [] }],
    shamirThreshold: 0,
    lastModified: "",
    mac: "",
    macOnlyEncrypted: false,
    rule: { kind: "unencrypted_suffix", value: "_unencrypted" },
  });

  it("refuses entries whose stanzas together pass the bound, though each header is within its own", async () => {
    const perEntry = 200;
    const age = Array.from({ length: Math.ceil(SOPS_LIMITS.stanzasPerFile / perEntry) + 1 }, () => foreign(perEntry));
    await expect(unwrapDataKey(metadata(age), identities)).rejects.toThrow(`more than ${SOPS_LIMITS.stanzasPerFile} recipient stanzas together`);
  });

  it("opens the file when its own entry comes first, however many foreign stanzas follow", async () => {
    const dataKey = randomBytes(32);
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    const ours = { recipient, enc: armor.encode(await encrypter.encrypt(dataKey)) };
    const age = [foreign(200), foreign(200), ours, foreign(200), foreign(200)];
    expect((await unwrapDataKey(metadata(age), identities)).equals(dataKey)).toBe(true);
  });
});

describe("key length and key paths per file", () => {
  // Each encrypted leaf is authenticated with its whole key path as additional
  // data. One 8 MiB key over 45,000 leaves was killed at 100 s at first boot.
  async function readKeyed(key: string, copies: number): Promise<string> {
    const { dir, cleanup } = tempDir();
    try {
      const identity = await generateX25519Identity();
      const ids = (await identitiesFromAgeFile(`${identity}\n`, "/test/key.txt")).identities;
      // One copy: a value the key selects; more: a list of them (list positions add nothing to the key path).
      const plain = copies === 1 ? "v" : Array.from({ length: copies }, () => "v");
      const { tree, sops } = await encryptTree({ [key]: plain }, { recipients: [await identityToRecipient(identity)] });
      const path = join(dir, "file.json");
      writeFileSync(path, JSON.stringify({ ...tree, sops }));
      const session = new SopsSession(ids);
      try {
        return (await session.secret(path, "json", `${key}`, () => openSync(path, "r"))).toString("utf8");
      } finally {
        session.close();
      }
    } finally {
      cleanup();
    }
  }

  it("opens a value under a key at the bound", async () => {
    expect(await readKeyed("k".repeat(SOPS_LIMITS.keyChars), 1)).toBe("v");
  });

  it("refuses a key past the bound, naming it", async () => {
    await expect(readKeyed("k".repeat(SOPS_LIMITS.keyChars + 1), 1)).rejects.toThrow(/longer than 65536 characters/);
  });

  it("refuses key paths that add up past the bound over all leaves", async () => {
    await expect(readKeyed("k".repeat(SOPS_LIMITS.keyChars), SOPS_LIMITS.pathChars / SOPS_LIMITS.keyChars + 1)).rejects.toThrow(/key paths of the values add up to more than/);
  });
});

describe("comment selection rules, each comment tested once", () => {
  // sops.go shouldBeEncrypted with the comment regexes: a value is encrypted
  // when a comment above it in scope (since the last entry of each enclosing
  // level) matches (encrypted_comment_regex) or none does
  // (unencrypted_comment_regex). The selector counts matches as comments are
  // seen instead of testing every comment in scope again for every value.
  it.each([
    ["encrypted_comment_regex", "^ enc:yes$", "# keep\nclear_one: open\n# enc:yes\nnested:\n    secret: SEALED_secret\n    other: SEALED_other\nafter: plain\n"],
    ["unencrypted_comment_regex", "^ keep$", "# keep\nclear_one: open\n# enc:yes\nnested:\n    secret: SEALED_secret\n    other: SEALED_other\n# keep\nafter: plain\n"],
  ] as const)("%s decides per scope", async (rule, regex, layout) => {
    const { dir, cleanup } = tempDir();
    try {
      const identity = await generateX25519Identity();
      const ids = (await identitiesFromAgeFile(`${identity}\n`, "/test/key.txt")).identities;
      const { sops, dataKey } = await encryptTree({ x: "y" }, { recipients: [await identityToRecipient(identity)] });
      const values = { secret: "s3cret", other: "two" };
      const body = layout.replace(/SEALED_(\w+)/g, (_, key: "secret" | "other") => sealValue(values[key], dataKey, `nested:${key}:`, "str"));
      const lastmodified = String(sops["lastmodified"]);
      const mac = createHash("sha512").update("open").update("s3cret").update("two").update("plain").digest("hex").toUpperCase();
      const metadata = { ...sops, [rule]: regex, mac: sealValue(mac, dataKey, lastmodified, "str") };
      delete (metadata as Record<string, unknown>)["unencrypted_suffix"];
      const path = join(dir, "file.yaml");
      writeFileSync(path, `${body}${stringify({ sops: metadata })}`);
      const session = new SopsSession(ids);
      const read = async (key: string) => (await session.secret(path, "yaml", key, () => openSync(path, "r"))).toString("utf8");
      expect([await read("clear_one"), await read("nested/secret"), await read("nested/other"), await read("after")]).toEqual(["open", "s3cret", "two", "plain"]);
      session.close();
    } finally {
      cleanup();
    }
  });
});

describe("a large real value within every bound", () => {
  // 11 MB of plaintext is a 14.7 MB file, near the 16 MiB bound: one line per
  // value, so no YAML bound is near. Before, the base64 check of the ENC value
  // (a regex repeating 4-character groups) overflowed the stack from a few MiB.
  it.each(["yaml", "binary"] as const)("%s: an 11 MB value decrypts", async (format) => {
    const { dir, cleanup } = tempDir();
    try {
      const identity = await generateX25519Identity();
      const ids = (await identitiesFromAgeFile(`${identity}\n`, "/test/key.txt")).identities;
      const recipients = [await identityToRecipient(identity)];
      const value = "v".repeat(11_000_000);
      const path = join(dir, "large");
      writeFileSync(path, format === "yaml" ? await craftYaml({ big: value }, { recipients }) : await craftBinary(value, { recipients }));
      const session = new SopsSession(ids);
      const bytes = await session.secret(path, format, format === "yaml" ? "big" : "", () => openSync(path, "r"));
      expect(bytes.length).toBe(value.length);
      expect(bytes.every((byte) => byte === 0x76)).toBe(true);
      session.close();
    } finally {
      cleanup();
    }
  });
});

describe("selection regexes under a work bound (outside attack: a 64 KiB key took the linear engine over 3 GiB)", () => {
  const pathological = `${"(?:a?){15}".repeat(100)}z`;
  const malformed = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect((error as AgebootError).code).toBe("MALFORMED");
      return (error as Error).message;
    }
    throw new Error("expected a refusal");
  };

  it("refuses a key or comment longer than the bound before testing it, naming the rule", () => {
    const byKey = selector({ kind: "encrypted_regex", value: pathological });
    expect(malformed(() => byKey.encrypted(["a".repeat(SOPS_LIMITS.regexTestedChars + 1)], [], false))).toMatch(
      new RegExp(`^encrypted_regex: a key of ${SOPS_LIMITS.regexTestedChars + 1} characters is longer than the ${SOPS_LIMITS.regexTestedChars}`),
    );
    const byComment = selector({ kind: "encrypted_comment_regex", value: "^sops:enc" });
    expect(malformed(() => byComment.see(newCommentLevel(), "x".repeat(SOPS_LIMITS.regexTestedChars + 1)))).toMatch(/^encrypted_comment_regex: a comment of/);
    // At the bound it is tested, and decides.
    expect(byKey.encrypted([`${"a".repeat(SOPS_LIMITS.regexTestedChars - 1)}z`], [], false)).toBe(true);
  });

  it("tests each distinct key once, and refuses a file whose distinct keys pass the work bound", () => {
    const rule = selector({ kind: "encrypted_regex", value: "^(data|stringData)$" });
    // The same keys over many leaves: tested once each, whatever the number of leaves.
    for (let leaf = 0; leaf < 100_000; leaf++) expect(rule.encrypted(["data", "x".repeat(500)], [], false)).toBe(true);
    const heavy = selector({ kind: "unencrypted_regex", value: pathological });
    const perKey = 500 * (pathological.length + 1);
    const fits = Math.floor(SOPS_LIMITS.regexWork / perKey);
    for (let key = 0; key < fits; key++) heavy.encrypted([`${String(key).padStart(8, "0")}${"a".repeat(492)}`], [], false);
    expect(malformed(() => heavy.encrypted([`${"b".repeat(500)}`], [], false))).toMatch(/^unencrypted_regex: its keys and comments would cost the selection regex more than/);
  });
});

describe("messages quote a crafted file's keys cut, never whole", () => {
  it("a 64 KiB key path is quoted as its first 200 characters and its length", () => {
    expect(describePath(["a".repeat(65536), "b"])).toBe(`"${"a".repeat(200)}…" (65538 characters)`);
    expect(describePath(["data", "password"])).toBe('"data/password"');
  });
});
