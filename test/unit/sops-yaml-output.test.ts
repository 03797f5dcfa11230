// The whole-file YAML output (key = "", what `sops --decrypt` prints and
// sops-nix writes) on trees beyond the simple: comments where sops' YAML
// store keeps them, nested maps in lists, multi-line strings, ints, floats,
// bools, times. Expected texts are facts from sops and yaml.v3, with our own
// keys and values:
// - getsops/sops stores/yaml/store_test.go: load-then-emit round trips
//   (TestComment1-3, 6, 7, TestCommentInline*, TestEmpty3, aliases, two
//   documents) keep comments in place (head comments before their key, a
//   collection's first and last comments inside it, line comments on their
//   value's line), re-indent to 4 spaces, drop blank lines, expand aliases.
// - yaml.v3 (go.yaml.in/yaml/v3 v3.0.4, which sops uses) encode.go and
//   emitterc.go: a string with a line break is a literal block unless it has
//   a trailing space, a space before a break or an unprintable character;
//   "|-" without a final break, "|" with one, "|+" with more; an indentation
//   indicator when it starts with a space or a break; floats as Go's 'g';
//   times as RFC 3339 (a date alone is midnight UTC); old booleans quoted.
// The comment cases go through parse and emit alone (the test encoder does
// not encrypt comments); the typed tree goes through encryption too.
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { emitPlainFile } from "../../src/sops/emit.js";
import { parseYamlDocuments } from "../../src/sops/parse-yaml.js";
import { SopsSession } from "../../src/sops/session.js";
import { CANARY } from "../helpers/canary.js";
import { craftYaml, type Plain } from "../helpers/sops-craft.js";
import { tempDir } from "../helpers/temp-dir.js";

const roundTrip = (text: string) => emitPlainFile("yaml", parseYamlDocuments(text)).toString("utf8");

describe("YAML whole-file output: comments, as sops' store keeps them", () => {
  it.each([
    ["a foot comment of a nested map stays inside it, once", "# top\nouter:\n    x: null\n    # after x\n"],
    ["a head comment of a nested map's first key stays before it", "outer:\n    # before x\n    x: null\n"],
    ["a comment after a nested map, at its parent's level", "a:\n    b:\n        c: d\n    # after b\ne:\n    - f\n"],
    ["a comment between list items, before a flow map", "l:\n    - one\n    # between\n    - {}\n"],
    ["line comments stay on their value's line", "k1: v1 # on k1\nk2: v2\n# above k3\nk3: v3 # on k3\n"],
    ["a line comment on a list item", "items:\n    - first # on first\n    - second\n"],
    ["a line comment in a nested map", "parent:\n    child: v # on child\n    other: w\n"],
    ["an empty map", "{}\n"],
  ])("%s", (_, text) => {
    expect(roundTrip(text)).toBe(text);
  });

  it("re-indents to 4 spaces, drops blank lines, keeps ## comments", () => {
    const input = "## section\n##\ntop:\n  inner:\n    ## about key\n    ##\n\n    key: value\n  list:\n    - --flag=^/(a|b)($|/)\n";
    expect(roundTrip(input)).toBe("## section\n##\ntop:\n    inner:\n        ## about key\n        ##\n        key: value\n    list:\n        - --flag=^/(a|b)($|/)\n");
  });

  it("expands aliases and separates documents with ---", () => {
    expect(roundTrip("---\nk1: &l\n  - v\nk2: *l\nk3: &m\n  a: b\nk4: *m\n")).toBe("k1:\n    - v\nk2:\n    - v\nk3:\n    a: b\nk4:\n    a: b\n");
    expect(roundTrip("---\n# c0\nk: v\n# c1\n---\nk2: v2")).toBe("# c0\nk: v\n# c1\n---\nk2: v2\n");
  });
});

describe("YAML whole-file output: indentation, as yaml.v3 computes it", () => {
  it.each([
    // Inside a list item 2 more (past "- "), elsewhere the next multiple of 4.
    ["a literal block as a list item", "l:\n    - |-\n      a\n      b\n"],
    ["a literal block in a map in a list item", "l:\n    - k: |-\n        a\n        b\n"],
    ["a map in a map in a list item", "l:\n    - k:\n        x: 1\n      j: 2\n"],
    ["a list in a list item", "l:\n    - - a\n      - b\n"],
    ["an empty map and list as items", "l:\n    - {}\n    - []\n"],
  ])("%s", (_, text) => {
    expect(roundTrip(text)).toBe(text);
  });
});

describe("YAML whole-file output: values, as yaml.v3 writes them", () => {
  it.each([
    ["strip", '"a\\nb"', "|-\n    a\n    b"],
    ["clip", '"a\\nb\\n"', "|\n    a\n    b"],
    ["keep", '"a\\n\\n"', "|+\n    a\n"],
    ["keep, three breaks", '"a\\n\\n\\n"', "|+\n    a\n\n"],
    ["leading spaces", '"  a\\nb"', "|4-\n      a\n    b"],
    ["a tab", '"a\\tb\\nc"', "|-\n    a\tb\n    c"],
    ["a trailing space", '"a\\nb "', '"a\\nb "'],
    ["a space before a break", '"a \\nb"', '"a \\nb"'],
    ["a date alone", "2024-01-02", "2024-01-02T00:00:00Z"],
    ["a time with a space", "2024-1-2 3:04:05", "2024-01-02T03:04:05Z"],
    ["a float with a zero fraction", "2.0", "2"],
    ["a large float", "1000000.0", "1e+06"],
    ["a hex int", "0x1f", "31"],
    ["an old boolean, quoted", '"yes"', '"yes"'],
    ["a string that looks like a number", '"123"', '"123"'],
  ])("%s", (_, input, output) => {
    expect(roundTrip(`k: ${input}\n`)).toBe(`k: ${output}\n`);
  });
});

describe("YAML whole-file output through decryption", () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  let identities: LoadedIdentity[];
  let recipient: string;
  beforeAll(async () => {
    const identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    identities = (await identitiesFromAgeFile(`${identity}\n`, "/test/key.txt")).identities;
  });

  it("nested maps in lists, lists in lists, multi-line strings, ints, floats, bools", async () => {
    const tree: { [key: string]: Plain } = {
      services: [
        { name: `web-${CANARY}`, port: 443, tls: true, ratio: 0.5 },
        { name: "db", replicas: [1, 2], nested: [["x", `y-${CANARY}`]] },
      ],
      key: `-----BEGIN KEY-----\n${CANARY}\n-----END KEY-----\n`,
      script: "line one\nline two",
      small: 0.125,
      disabled: false,
    };
    const path = join(dir, "tree.yaml");
    writeFileSync(path, await craftYaml(tree, { recipients: [recipient] }));
    const session = new SopsSession(identities);
    const whole = (await session.secret(path, "yaml", "", () => openSync(path, "r"))).toString("utf8");
    session.close();
    expect(whole).toBe(
      [
        "services:",
        `    - name: web-${CANARY}`,
        "      port: 443",
        "      tls: true",
        "      ratio: 0.5",
        "    - name: db",
        "      replicas:",
        "        - 1",
        "        - 2",
        "      nested:",
        "        - - x",
        `          - y-${CANARY}`,
        "key: |",
        "    -----BEGIN KEY-----",
        `    ${CANARY}`,
        "    -----END KEY-----",
        "script: |-",
        "    line one",
        "    line two",
        "small: 0.125",
        "disabled: false",
        "",
      ].join("\n"),
    );
  });
});
