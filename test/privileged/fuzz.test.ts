// Property-based fuzzing with fast-check: whatever the input, only the
// documented error types escape. Bounded in CI; FUZZ_RUNS=100000 for a long run
// (docs/reliability.md). Pure, in-process, no root.
import { Stanza } from "age-encryption";
import fc from "fast-check";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBase64NoPad } from "../../src/age/base64.js";
import { decryptAgeFile } from "../../src/sources/age.js";
import { parseHeader } from "../../src/age/header.js";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import { loadIdentities } from "../../src/identities/load.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { parseJsonRejectingDuplicates } from "../../src/manifest/json.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { parseSopsDocument, SOPS_FORMATS } from "../../src/sops/document.js";
import { tempDir } from "../helpers/temp-dir.js";
import { craftBinary, craftDotenv, craftIni, craftJson, craftYaml } from "../helpers/sops-craft.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

const numRuns = Number(process.env["FUZZ_RUNS"] ?? 400);
const { dir, cleanup } = tempDir();
afterAll(cleanup);

let edIdentities: LoadedIdentity[];
let rsaIdentities: LoadedIdentity[];
let validFile: Buffer;
beforeAll(async () => {
  const ed = sshKeygen(dir, "ed", "ed25519");
  const rsa = sshKeygen(dir, "rsa", "rsa", { bits: 2048 });
  edIdentities = (await loadIdentities([ed])).identities;
  rsaIdentities = (await loadIdentities([rsa])).identities;
  validFile = ageEncrypt(Buffer.alloc(70_000, 5), [
    ["-R", `${rsa}.pub`],
    ["-R", `${ed}.pub`],
  ]);
});

/** Run `body`; anything thrown must be an AgebootError. */
async function onlyAgebootErrors(body: () => unknown): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (!(error instanceof AgebootError)) throw new Error(`undocumented error escaped: ${String(error)}`);
  }
}

const base64Arg = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((bytes) => encodeBase64NoPad(bytes));
const arg = fc.oneof(base64Arg, fc.constantFrom("ssh-ed25519", "ssh-rsa", "X25519", "scrypt", "=", "", " "), fc.string({ maxLength: 12 }));

describe("fuzz: age header parser", () => {
  it("arbitrary bytes after the version line", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        await onlyAgebootErrors(() => parseHeader(Buffer.concat([Buffer.from("age-encryption.org/v1\n"), bytes])));
      }),
      { numRuns },
    );
  });

  it("headers built from near-valid lines", async () => {
    const line = fc.oneof(
      fc.array(arg, { minLength: 0, maxLength: 4 }).map((args) => `-> ${args.join(" ")}`),
      fc.uint8Array({ maxLength: 60 }).map((bytes) => encodeBase64NoPad(bytes)),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((mac) => `--- ${encodeBase64NoPad(mac)}`),
      fc.constantFrom("", "---", "--- ", "->"),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 10 }), async (lines) => {
        await onlyAgebootErrors(() => parseHeader(Buffer.from(`age-encryption.org/v1\n${lines.join("\n")}\n`, "latin1")));
      }),
      { numRuns },
    );
  });
});

describe("fuzz: stanza handlers", () => {
  const stanza = (tagOf: () => string) =>
    fc
      .record({
        type: fc.constantFrom("ssh-ed25519", "ssh-rsa", "X25519", "other"),
        useOurTag: fc.boolean(),
        extra: fc.array(arg, { maxLength: 3 }),
        body: fc.uint8Array({ maxLength: 300 }),
      })
      .map(({ type, useOurTag, extra, body }) => new Stanza([type, ...(useOurTag ? [tagOf()] : []), ...extra], body));

  it("ssh-ed25519 and its derived X25519 identity", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          stanza(() => edIdentities[0]!.tag!),
          { maxLength: 4 },
        ),
        async (stanzas) => {
          for (const { identity } of edIdentities) await onlyAgebootErrors(() => (identity as { unwrapFileKey(s: Stanza[]): unknown }).unwrapFileKey(stanzas));
        },
      ),
      { numRuns },
    );
  });

  it("ssh-rsa", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          stanza(() => rsaIdentities[0]!.tag!),
          { maxLength: 3 },
        ),
        async (stanzas) => {
          await onlyAgebootErrors(() => (rsaIdentities[0]!.identity as { unwrapFileKey(s: Stanza[]): unknown }).unwrapFileKey(stanzas));
        },
      ),
      { numRuns: Math.min(numRuns, 200) },
    );
  });
});

describe("fuzz: whole files", () => {
  it("a valid file with bytes flipped, inserted or cut decrypts unchanged or fails with an AgebootError", async () => {
    const mutation = fc.record({
      kind: fc.constantFrom("flip", "insert", "cut"),
      at: fc.nat({ max: 70_500 }),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ kind, at, byte }) => {
        const position = at % validFile.length;
        const mutated =
          kind === "flip"
            ? Buffer.concat([validFile.subarray(0, position), Buffer.from([validFile[position]! ^ (byte | 1)]), validFile.subarray(position + 1)])
            : kind === "insert"
              ? Buffer.concat([validFile.subarray(0, position), Buffer.from([byte]), validFile.subarray(position)])
              : validFile.subarray(0, position);
        const file = join(dir, "mutated.age");
        writeFileSync(file, mutated);
        let decrypted: Buffer | null = null;
        await onlyAgebootErrors(async () => (decrypted = await decryptAgeFile({ file }, [...edIdentities, ...rsaIdentities])));
        // Anything that decrypts must be the original plaintext (a flip inside an ignored stanza cannot pass the MAC).
        if (decrypted !== null) expect((decrypted as Buffer).equals(Buffer.alloc(70_000, 5))).toBe(true);
      }),
      { numRuns: Math.min(numRuns, 300) },
    );
  });
});

describe("fuzz: manifest", () => {
  it("validateManifest never throws, whatever the document", () => {
    const secretLike = fc.record(
      {
        file: fc.oneof(fc.string(), fc.constant("/a.age")),
        path: fc.option(fc.string()),
        owner: fc.option(fc.oneof(fc.string(), fc.integer())),
        group: fc.option(fc.jsonValue()),
        mode: fc.option(fc.oneof(fc.string({ maxLength: 5 }), fc.integer())),
        symlink: fc.option(fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const manifestLike = fc.record(
      {
        version: fc.oneof(fc.constant(1), fc.jsonValue()),
        secretsDir: fc.option(fc.string()),
        identityPaths: fc.option(fc.jsonValue()),
        keepGenerations: fc.option(fc.jsonValue()),
        secrets: fc.oneof(fc.dictionary(fc.string(), secretLike, { maxKeys: 5 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), manifestLike, fc.anything()), (document) => {
        const result = validateManifest(document);
        expect("manifest" in result || result.problems.length > 0).toBe(true);
      }),
      { numRuns },
    );
  });

  it("the JSON reader throws only SyntaxError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((value) => JSON.stringify(value)),
          fc.jsonValue().map((value) => JSON.stringify(value).replace(/\}$/, ',"a":1,"a":2}')),
        ),
        (text) => {
          try {
            parseJsonRejectingDuplicates(text);
          } catch (error) {
            expect(error).toBeInstanceOf(SyntaxError);
          }
        },
      ),
      { numRuns },
    );
  });
});

describe("fuzz: identity loader", () => {
  it("age identity files of any text never throw", async () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-PQ-1", "# comment", "", "AGE-PLUGIN-X-1", "ssh-ed25519 AAAA"),
      fc.string().map((text) => `AGE-SECRET-KEY-1${text.toUpperCase()}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
        const { identities, problems } = await identitiesFromAgeFile(lines.join("\n"), "/fuzz");
        expect(identities.length + problems.length).toBeLessThanOrEqual(lines.length);
      }),
      { numRuns },
    );
  });

  it("key files of any content are reported, never thrown", async () => {
    const content = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc
        .uint8Array({ maxLength: 1500 })
        .map((bytes) => Buffer.from(`-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from(bytes).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`)),
      fc.uint8Array({ maxLength: 1500 }).map((bytes) => Buffer.from(`-----BEGIN RSA PRIVATE KEY-----\n${Buffer.from(bytes).toString("base64")}\n-----END RSA PRIVATE KEY-----\n`)),
      fc.uint8Array({ maxLength: 1500 }).map((bytes) => Buffer.from(`-----BEGIN PRIVATE KEY-----\n${Buffer.from(bytes).toString("base64")}\n-----END PRIVATE KEY-----\n`)),
    );
    await fc.assert(
      fc.asyncProperty(content, async (bytes) => {
        const path = join(dir, "fuzz-key");
        writeFileSync(path, bytes, { mode: 0o600 });
        const set = await loadIdentities([path]);
        expect(set.identities.length + set.warnings.length).toBeGreaterThan(0);
      }),
      { numRuns: Math.min(numRuns, 300) },
    );
  });
});

describe("fuzz: sops parsers", () => {
  // The bounded readers (src/sops/yaml-bounded.ts, parse-*.ts, metadata.ts)
  // with syntax spliced into real files of each format: only AgebootError may
  // escape (the session would turn anything else into an IO error and hide it).
  it("a crafted sops file of each format with bytes or syntax spliced in is read or refused with an AgebootError", async () => {
    const options = { recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"] };
    const tree = { a: { b: "c", list: ["x", 1, true] }, d: "e" };
    const files = {
      yaml: await craftYaml(tree, options),
      json: await craftJson(tree, options),
      dotenv: await craftDotenv({ A: "b", C: "d" }, options),
      ini: await craftIni({ s: { a: "b" } }, options),
      binary: await craftBinary("data", options),
    };
    const splice = fc.record({
      format: fc.constantFrom(...SOPS_FORMATS),
      at: fc.nat({ max: 100_000 }),
      cut: fc.nat({ max: 8 }),
      text: fc.oneof(
        fc.constantFrom(
          "[",
          "]",
          "{",
          "}",
          ",",
          "&a ",
          "*a",
          "*b",
          "---\n",
          "...\n",
          "#",
          '"',
          "'",
          "|\n",
          ">-\n",
          "- ",
          ": ",
          "? ",
          "!!binary ",
          "!x ",
          "%YAML 1.2\n",
          "\t",
          "\n  ",
          "__list_9999",
          "__map_",
          "sops_",
          "[sops]\n",
          '"""',
          "=",
          "\\",
        ),
        fc.string({ maxLength: 6 }),
      ),
    });
    fc.assert(
      fc.property(fc.array(splice, { minLength: 1, maxLength: 4 }), (splices) => {
        let text: string = files[splices[0]!.format];
        for (const { at, cut, text: inserted } of splices) {
          const position = at % (text.length + 1);
          text = text.slice(0, position) + inserted + text.slice(position + cut);
        }
        try {
          parseSopsDocument(text, splices[0]!.format);
        } catch (error) {
          if (!(error instanceof AgebootError)) throw new Error(`undocumented error escaped: ${String(error)}`);
        }
      }),
      { numRuns: numRuns * 5 },
    );
  });
});
