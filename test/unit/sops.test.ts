// sops decryption in process, on files made by the test encoder
// (test/helpers/sops-craft.ts) with keys made here: formats, key paths, types,
// the MAC, tampered copies, errors. Canaries in every plaintext; no error
// message may carry one.
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { sopsFileProblems } from "../../src/sops/check.js";
import { compileRe2 } from "../../src/sops/re2.js";
import { goFloatG, goFloatText, lastModifiedAad } from "../../src/sops/scalars.js";
import type { SopsFormat } from "../../src/sops/document.js";
import { SopsSession } from "../../src/sops/session.js";
import { CANARY } from "../helpers/canary.js";
import { craftBinary, craftDotenv, craftIni, craftJson, craftYaml } from "../helpers/sops-craft.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

let identities: LoadedIdentity[];
let recipient: string;
let otherRecipient: string;

beforeAll(async () => {
  const identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  otherRecipient = await identityToRecipient(await generateX25519Identity());
  identities = (await identitiesFromAgeFile(`${identity}\n`, "/test/host-key.txt")).identities;
});

let counter = 0;
function write(text: string): string {
  const path = join(dir, `file-${counter++}`);
  writeFileSync(path, text);
  return path;
}

async function read(text: string, format: SopsFormat, key: string, session = new SopsSession(identities)): Promise<string> {
  const path = write(text);
  return (await session.secret(path, format, key, () => openSync(path, "r"))).toString("utf8");
}

async function failure(text: string, format: SopsFormat, key: string, ids = identities): Promise<AgebootError> {
  try {
    await read(text, format, key, new SopsSession(ids));
  } catch (error) {
    expect(error).toBeInstanceOf(AgebootError);
    expect((error as Error).message).not.toContain(CANARY);
    return error as AgebootError;
  }
  throw new Error("expected a failure");
}

const tree = {
  db: { password: `pw-${CANARY}`, port: 5432, replicas: [`r1-${CANARY}`, `r2-${CANARY}`] },
  api_token: `token-${CANARY}`,
  enabled: true,
  ratio: 0.25,
  note_unencrypted: "clear text",
};

describe("sops files", () => {
  it("reads values by key path from YAML and JSON, nested, and list items by position", async () => {
    const yaml = await craftYaml(tree, { recipients: [otherRecipient, recipient] });
    expect(yaml).not.toContain(CANARY);
    expect(await read(yaml, "yaml", "db/password")).toBe(`pw-${CANARY}`);
    expect(await read(yaml, "yaml", "api_token")).toBe(`token-${CANARY}`);
    expect(await read(yaml, "yaml", "db/replicas/1")).toBe(`r2-${CANARY}`);
    expect(await read(yaml, "yaml", "note_unencrypted")).toBe("clear text");
    const json = await craftJson(tree, { recipients: [recipient] });
    expect(await read(json, "json", "db/password")).toBe(`pw-${CANARY}`);
  });

  it("writes the whole file as sops --decrypt prints it, for every format", async () => {
    const yaml = await craftYaml({ a: `x-${CANARY}`, b: { c: 1, d: false, e: 2.5 }, l: ["p", "q"] }, { recipients: [recipient] });
    expect(await read(yaml, "yaml", "")).toBe(`a: x-${CANARY}\nb:\n    c: 1\n    d: false\n    e: 2.5\nl:\n    - p\n    - q\n`);
    const json = await craftJson({ foo: `bar-${CANARY}`, n: { m: 3, t: true, s: "<&>" } }, { recipients: [recipient] });
    expect(await read(json, "json", "")).toBe(`{\n\t"foo": "bar-${CANARY}",\n\t"n": {\n\t\t"m": 3,\n\t\t"t": true,\n\t\t"s": "\\u003c\\u0026\\u003e"\n\t}\n}\n`);
    const dotenv = await craftDotenv({ FOO: `bar-${CANARY}`, "SPACED ": " x", MULTI: "a\nb" }, { recipients: [recipient] });
    expect(await read(dotenv, "dotenv", "ignored")).toBe(`FOO=bar-${CANARY}\nSPACED = x\nMULTI=a\\nb\n`);
    const ini = await craftIni({ foo: { bar: `baz-${CANARY}`, longer_key: "v" }, second: { k: "w" } }, { recipients: [recipient] });
    expect(await read(ini, "ini", "")).toBe(`[foo]\nbar        = baz-${CANARY}\nlonger_key = v\n\n[second]\nk = w\n`);
    const binary = await craftBinary(`line one ${CANARY}\n\u0000\u00ff end`, { recipients: [recipient] });
    expect(await read(binary, "binary", "")).toBe(`line one ${CANARY}\n\u0000\u00ff end`);
  });

  it("opens a shared file once however many secrets read it", async () => {
    const path = write(await craftYaml(tree, { recipients: [recipient] }));
    const session = new SopsSession(identities);
    let opens = 0;
    const open = () => {
      opens++;
      return openSync(path, "r");
    };
    await Promise.all(["db/password", "api_token", "db/replicas/0"].map((key) => session.secret(path, "yaml", key, open)));
    await session.secret(path, "yaml", "", open);
    expect(opens).toBe(1);
    expect(session.filesOpened).toBe(1);
    session.close();
  });

  it("names the path and the keys that exist when a key path is not there, or not a string", async () => {
    const yaml = await craftYaml(tree, { recipients: [recipient] });
    expect((await failure(yaml, "yaml", "db/pasword")).message).toBe('key "db/pasword" not found: "db" has the keys "password", "port", "replicas"');
    expect((await failure(yaml, "yaml", "db/replicas/5")).message).toContain('"db/replicas" is a list of 2 items');
    expect((await failure(yaml, "yaml", "db/port")).message).toContain('the value of key "db/port" is an integer, not a string');
    expect((await failure(yaml, "yaml", "db")).message).toContain("is a mapping, not a string");
  });

  it("refuses tampered copies, each with its cause", async () => {
    const yaml = await craftYaml(tree, { recipients: [recipient] });
    const swapped = yaml.replace(/(- ENC\[[^\n]*)\n(\s*)(- ENC\[[^\n]*)/, "$3\n$2$1");
    expect(swapped).not.toBe(yaml);
    expect((await failure(swapped, "yaml", "api_token")).message).toContain("MAC mismatch");
    const passwordValue = /password: (ENC\[[^\n]*)/.exec(yaml)![1]!;
    const tokenValue = /api_token: (ENC\[[^\n]*)/.exec(yaml)![1]!;
    const moved = yaml.replace(tokenValue, passwordValue);
    expect((await failure(moved, "yaml", "db/password")).message).toBe(
      'value at "api_token" does not authenticate: it was moved from another key, edited, or encrypted with another data key',
    );
    const edited = yaml.replace("2024-05-06T07:08:09Z", "2024-05-06T07:08:10Z");
    expect((await failure(edited, "yaml", "api_token")).message).toContain("the MAC does not authenticate with lastmodified");
    const noMac = yaml.replace(/\n\s*mac: ENC\[[^\n]*/, "");
    expect((await failure(noMac, "yaml", "api_token")).message).toContain("the file has no MAC");
  });

  it("says which recipients the file has and which identities were tried, and names PGP-only files", async () => {
    const yaml = await craftYaml(tree, { recipients: [otherRecipient] });
    const error = await failure(yaml, "yaml", "api_token");
    expect(error.code).toBe("NO_MATCH");
    expect(error.message).toContain(`the file's age recipients are [${otherRecipient}]`);
    expect(error.message).toContain(`tried: X25519 ${recipient} (/test/host-key.txt)`);
    const pgpOnly = yaml.replace(/ {4}age:[\s\S]*?(?= {4}lastmodified)/, '    pgp:\n        - fp: "ABCD"\n          enc: "x"\n');
    expect((await failure(pgpOnly, "yaml", "api_token")).message).toContain("this file can only be opened with PGP/KMS keys (pgp), which ageboot does not support");
  });
});

describe("ageboot check on sops secrets (no private key)", () => {
  it("finds a missing key path and a value that is not a string from the encrypted file alone", async () => {
    const file = write(await craftYaml(tree, { recipients: [otherRecipient] }));
    const spec = (key: string) => ({
      name: "s",
      format: "yaml" as const,
      key,
      file,
      path: "/run/agenix/s",
      owner: "root",
      group: undefined,
      mode: 0o400,
      symlink: true,
      restartUnits: [],
      reloadUnits: [],
    });
    expect(sopsFileProblems(spec("db/password"))).toEqual([]);
    expect(sopsFileProblems(spec("db/nope"))[0]).toContain('key "db/nope" not found: "db" has the keys "password", "port", "replicas"');
    expect(sopsFileProblems(spec("db/port"))).toEqual(['the value of key "db/port" is encrypted as int, not a string; a secret must be a string (as in sops-nix)']);
  });
});

describe("sops value texts", () => {
  it("formats floats as Go does for the MAC ('f', shortest) and for YAML ('g')", () => {
    expect([1234568000, 25.4, 1e21, 1e-7, -0, 0.1].map(goFloatText)).toEqual(["1234568000", "25.4", "1000000000000000000000", "0.0000001", "-0", "0.1"]);
    expect([1234568000, 25.4, 1e6, 100000, 1e-5, 0.0001].map(goFloatG)).toEqual(["1.234568e+09", "25.4", "1e+06", "100000", "1e-05", "0.0001"]);
  });

  it("re-formats lastmodified as Go's RFC 3339 layout for the MAC's additional data", () => {
    expect(lastModifiedAad("2021-09-30T19:49:41Z")).toBe("2021-09-30T19:49:41Z");
    expect(lastModifiedAad("2021-09-30T19:49:41.123456Z")).toBe("2021-09-30T19:49:41Z");
    expect(lastModifiedAad("2021-09-30T19:49:41+00:00")).toBe("2021-09-30T19:49:41Z");
    expect(lastModifiedAad("2021-09-30T19:49:41+02:00")).toBe("2021-09-30T19:49:41+02:00");
  });

  it("runs RE2 selection regexes in linear time, translating what JavaScript spells differently and refusing the rest", () => {
    expect(compileRe2("(?i)^DATA$", "encrypted_regex").test("data")).toBe(true);
    expect(compileRe2("(?i)^[a-c]x$", "encrypted_regex").test("BX")).toBe(true);
    expect(compileRe2("^(?P<k>data|stringData)$", "encrypted_regex").test("stringData")).toBe(true);
    expect(compileRe2("(a+)+$", "encrypted_regex").test(`${"a".repeat(5000)}b`)).toBe(false);
    expect(() => compileRe2("[[:alpha:]]", "encrypted_regex")).toThrow(/POSIX character class/);
    expect(() => compileRe2("(a)\\1", "encrypted_regex")).toThrow(/cannot run/);
  });
});
