// A corpus of hostile inputs, each with the error class it must produce. Every
// one must end with a clear error and a non-zero exit, no stack trace, and the
// current generation untouched. The hostile manifests and identity files are
// each classified in process by the unit tier (test/unit/hostile-manifests.test.ts,
// test/unit/hostile-keys.test.ts); here the CLI shows, on a real host, that
// they stop a run before anything is touched.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBase64NoPad } from "../../src/age/base64.js";
import { craftFile, craftingIdentity } from "../helpers/age-craft.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { makeHostileIdentityFiles } from "../helpers/hostile-identity-files.js";
import { hostileManifests } from "../helpers/hostile-manifests.js";
import { commentScopeSops, hostileSopsFiles, largeAgeEntrySops, stanzaBombSops } from "../helpers/hostile-sops.js";
import { hostileTemplates } from "../helpers/hostile-templates.js";
import { hostileUserCases, newUserSession, type UserSession } from "../helpers/hostile-user-mode.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";
import { sshTag } from "../../src/identities/ssh-keys.js";

beforeAll(requirePrivateNamespace);

const host = hostPerFile();
const keys = join(host.root, "keys");
mkdirSync(keys);
let ageIdentityFile = "";
let crafting: { identity: string; recipient: string };
let rsaKey = "";

const CHUNK = 65_536;
const plaintext = Buffer.alloc(3 * CHUNK + 100, `${CANARY}-`);
let edFile: Buffer; // three full chunks and a partial one, to the ssh-ed25519 host key
let rsaFile: Buffer;

interface Outcome {
  status: number | null;
  codes: string[];
  stderr: string;
}

/** Run activate with JSON logs; the error codes of every error line. */
function activate(manifest: Record<string, unknown>): Outcome {
  const path = join(host.root, "hostile-manifest.json");
  writeFileSync(path, JSON.stringify(manifest));
  return activateManifestFile(path);
}

function activateManifestFile(path: string): Outcome {
  const result = runAgeboot(["--log-format", "json", "activate", "--manifest", path]);
  const codes = result.stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; code?: string })
    .filter((record) => record.level >= 50 && record.code)
    .map((record) => record.code!);
  return { status: result.status, codes, stderr: result.stderr };
}

function baseManifest(secrets: Record<string, unknown>, identityPaths = [host.key, ageIdentityFile, rsaKey]): Record<string, unknown> {
  return { version: 1, secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths, keepGenerations: 1, secrets };
}

let goodFile = "";
let fileCounter = 0;
function write(contents: Buffer | string): string {
  const path = join(host.root, `hostile-${fileCounter++}.age`);
  writeFileSync(path, contents);
  return path;
}

function expectUnchanged(outcome: Outcome): void {
  expect(outcome.status, outcome.stderr).not.toBe(0);
  expect(outcome.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(outcome.stderr).not.toContain(CANARY);
  expect(host.read("good")).toBe("good-value");
  const current = spawnSync("readlink", [host.secretsDir], { encoding: "utf8" }).stdout.trim();
  expect(current).toBe(`${host.mountPoint}/1`);
}

beforeAll(async () => {
  const agePath = join(keys, "age-identity.txt");
  crafting = await craftingIdentity();
  writeFileSync(agePath, `${crafting.identity}\n`, { mode: 0o600 });
  ageIdentityFile = agePath;
  rsaKey = sshKeygen(keys, "host_rsa", "rsa", { bits: 2048 });
  goodFile = host.encrypt("good-value");
  expect(activate(baseManifest({ good: { file: goodFile } })).status).toBe(0);
  edFile = ageEncrypt(plaintext, [["-R", `${host.key}.pub`]]);
  rsaFile = ageEncrypt(plaintext, [["-R", `${rsaKey}.pub`]]);
});

const headerEnd = (file: Buffer) => file.indexOf("\n", file.indexOf("\n---") + 1) + 1;
function editHeader(file: Buffer, edit: (header: string) => string): Buffer {
  const end = headerEnd(file);
  const changed = edit(file.subarray(0, end).toString("latin1"));
  expect(changed).not.toBe(file.subarray(0, end).toString("latin1"));
  return Buffer.concat([Buffer.from(changed, "latin1"), file.subarray(end)]);
}
const wrap = (base64: string) => `${(base64.match(/.{1,64}/g) ?? [""]).join("\n")}\n${base64.length % 64 === 0 ? "\n" : ""}`;
const b64 = (bytes: Buffer) => encodeBase64NoPad(bytes);

type AgeCase = [string, () => Buffer | Promise<Buffer>, "MALFORMED" | "CORRUPT" | "NO_MATCH"];
const ageCases: AgeCase[] = [
  ["an empty file", () => Buffer.alloc(0), "MALFORMED"],
  ["a wrong version line", () => Buffer.from("age-encryption.org/v2\n-> X25519 abc\n\n--- abc\n"), "MALFORMED"],
  ["only a version line", () => Buffer.from("age-encryption.org/v1\n"), "MALFORMED"],
  ["random bytes", () => Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 97 + 13) & 0xff)), "MALFORMED"],
  ["a share in non-canonical base64", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+)\S/, "$1B")), "MALFORMED"],
  ["a share with base64 padding", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+)/, "$1=")), "MALFORMED"],
  ["a body line in non-canonical base64", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+\n\S+)\S\n/, "$1B\n")), "MALFORMED"],
  [
    "a body line longer than 64 characters",
    () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+\n)(\S+)\n/, (_, a: string, body: string) => `${a}${body}${"A".repeat(68 - body.length)}\n`)),
    "MALFORMED",
  ],
  [
    "a full 64-character last body line with no short line after it",
    () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+\n)\S+\n/, `$1${b64(Buffer.alloc(48, 1))}\n`)),
    "MALFORMED",
  ],
  ["a stanza line without arguments", () => editHeader(edFile, (h) => h.replace("\n---", "\n-> \n\n---")), "MALFORMED"],
  ["a stanza with an empty argument", () => editHeader(edFile, (h) => h.replace("-> ssh-ed25519 ", "-> ssh-ed25519  ")), "MALFORMED"],
  ["no MAC line", () => Buffer.from(editHeader(edFile, (h) => h.replace(/---.*\n$/, "")).subarray(0, 200)), "MALFORMED"],
  ["a MAC that does not verify", () => editHeader(edFile, (h) => h.replace(/--- (\S)/, (_, c: string) => `--- ${c === "A" ? "B" : "A"}`)), "CORRUPT"],
  ["a MAC of the wrong length", () => editHeader(edFile, (h) => h.replace(/--- \S+/, `--- ${b64(Buffer.alloc(31))}`)), "MALFORMED"],
  ["a MAC in non-canonical base64", () => editHeader(edFile, (h) => h.replace(/(--- \S{42})\S/, "$1B")), "MALFORMED"],
  ["CRLF line endings in the header", () => editHeader(edFile, (h) => h.replace(/\n/g, "\r\n")), "MALFORMED"],
  ["a non-ASCII byte in the header", () => editHeader(edFile, (h) => h.replace("-> ssh-ed25519", "-> ssh-ed25519\u00e9")), "MALFORMED"],
  ["a stanza added after the MAC was made", () => editHeader(edFile, (h) => h.replace("\n---", "\n-> extra arg\nAAAA\n---")), "CORRUPT"],
  ["an ssh-ed25519 stanza with one argument", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+) \S+/, "$1")), "MALFORMED"],
  ["an ssh-ed25519 stanza with three arguments", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+)/, "$1 extra")), "MALFORMED"],
  ["an ssh-ed25519 share of 31 bytes", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+) \S+/, `$1 ${b64(Buffer.alloc(31, 9))}`)), "MALFORMED"],
  ["an ssh-ed25519 share that is the zero point", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+) \S+/, `$1 ${b64(Buffer.alloc(32))}`)), "MALFORMED"],
  [
    "an ssh-ed25519 share of order 2 (u = 1)",
    () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+) \S+/, `$1 ${b64(Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]))}`)),
    "MALFORMED",
  ],
  ["an ssh-ed25519 body of 31 bytes", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+\n)\S+\n/, `$1${b64(Buffer.alloc(31, 7))}\n`)), "MALFORMED"],
  ["an ssh-ed25519 body of 33 bytes", () => editHeader(edFile, (h) => h.replace(/(-> ssh-ed25519 \S+ \S+\n)\S+\n/, `$1${b64(Buffer.alloc(33, 7))}\n`)), "MALFORMED"],
  ["an ssh-rsa stanza with two arguments", () => editHeader(rsaFile, (h) => h.replace(/(-> ssh-rsa \S+)/, "$1 extra")), "MALFORMED"],
  [
    "an ssh-rsa body of the wrong size",
    () => editHeader(rsaFile, (h) => h.replace(/(-> ssh-rsa \S+\n)(?:\S{64}\n)*\S*\n/, (_, first: string) => `${first}${wrap(b64(Buffer.alloc(100, 3)))}`)),
    "MALFORMED",
  ],
  [
    "an ssh-rsa body for our tag that does not decrypt",
    () => editHeader(rsaFile, (h) => h.replace(/(-> ssh-rsa \S+\n)(?:\S{64}\n)*\S*\n/, (_, first: string) => `${first}${wrap(b64(Buffer.alloc(256, 3)))}`)),
    "CORRUPT",
  ],
  [
    "a header over 1 MiB",
    () => Buffer.concat([Buffer.from("age-encryption.org/v1\n"), Buffer.from(`-> filler ${"x".repeat(1000)}\n\n`.repeat(1200)), Buffer.from(`--- ${b64(Buffer.alloc(32))}\n`)]),
    "MALFORMED",
  ],
  [
    "ten thousand stanzas for other keys (more than MAX_STANZAS, src/age/limits.ts)",
    () => Buffer.from(`age-encryption.org/v1\n${"-> other-type arg\n\n".repeat(10_000)}--- ${b64(Buffer.alloc(32))}\n`),
    "MALFORMED",
  ],
  [
    "a passphrase-encrypted (scrypt) file",
    () => Buffer.from(`age-encryption.org/v1\n-> scrypt ${b64(Buffer.alloc(16, 1))} 18\n${b64(Buffer.alloc(32, 2))}\n--- ${b64(Buffer.alloc(32))}\n`),
    "NO_MATCH",
  ],
  ["truncated inside the nonce", () => edFile.subarray(0, headerEnd(edFile) + 8), "CORRUPT"],
  ["truncated right after the nonce", () => edFile.subarray(0, headerEnd(edFile) + 16), "CORRUPT"],
  ...[1, 2, 3].flatMap((boundary): AgeCase[] =>
    [-1, 0, 1].map(
      (delta): AgeCase => [
        `truncated at chunk boundary ${boundary} ${delta < 0 ? "minus" : delta > 0 ? "plus" : ""} ${delta ? "one byte" : "exactly"}`,
        () => edFile.subarray(0, headerEnd(edFile) + 16 + boundary * (CHUNK + 16) + delta),
        "CORRUPT",
      ],
    ),
  ),
  ["trailing data after the final chunk", () => Buffer.concat([edFile, Buffer.from("x")]), "CORRUPT"],
  ["a whole extra chunk of trailing data", () => Buffer.concat([edFile, Buffer.alloc(CHUNK + 16, 1)]), "CORRUPT"],
  ["a flipped bit in the last byte", () => Buffer.concat([edFile.subarray(0, -1), Buffer.from([edFile.at(-1)! ^ 1])]), "CORRUPT"],
  ["a final chunk without its final flag", () => craftFile(crafting.identity, crafting.recipient, [{ plaintext: Buffer.alloc(100, 1), final: false }]), "CORRUPT"],
  [
    "a full chunk marked final, then another",
    () =>
      craftFile(crafting.identity, crafting.recipient, [
        { plaintext: Buffer.alloc(CHUNK, 1), final: true },
        { plaintext: Buffer.alloc(5, 1), final: true },
      ]),
    "CORRUPT",
  ],
  [
    "an empty final chunk after a full one",
    () =>
      craftFile(crafting.identity, crafting.recipient, [
        { plaintext: Buffer.alloc(CHUNK, 1), final: false },
        { plaintext: Buffer.alloc(0), final: true },
      ]),
    "CORRUPT",
  ],
  [
    "a short chunk that is not the last",
    () =>
      craftFile(crafting.identity, crafting.recipient, [
        { plaintext: Buffer.alloc(10, 1), final: false },
        { plaintext: Buffer.alloc(10, 1), final: true },
      ]),
    "CORRUPT",
  ],
  ["an empty payload with no chunk at all", async () => await craftFile(crafting.identity, crafting.recipient, []), "CORRUPT"],
  ["armor with invalid base64", () => Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\n!!!!\n-----END AGE ENCRYPTED FILE-----\n"), "MALFORMED"],
  [
    "armor with a wrong line length",
    () => Buffer.from(`-----BEGIN AGE ENCRYPTED FILE-----\n${edFile.subarray(0, 200).toString("base64")}\n-----END AGE ENCRYPTED FILE-----\n`),
    "MALFORMED",
  ],
  [
    "armor without its end line",
    () =>
      Buffer.from(
        ageEncrypt("x", [["-R", `${host.key}.pub`]], true)
          .toString()
          .replace("-----END AGE ENCRYPTED FILE-----", ""),
      ),
    "MALFORMED",
  ],
];

describe("hostile age files", () => {
  it("covers at least 40 kinds of damage", () => expect(ageCases.length).toBeGreaterThanOrEqual(40));
  it.each(ageCases)("%s -> %s", async (_, make, code) => {
    const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file: write(await make()) } }));
    expect(outcome.codes, outcome.stderr).toContain(code);
    expectUnchanged(outcome);
  });

  it("a secret file that is a directory, or missing -> PLAN", () => {
    for (const file of [host.root, join(host.root, "missing.age")]) {
      const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file } }));
      expect(outcome.codes).toContain("PLAN");
      expectUnchanged(outcome);
    }
  });
});

describe("hostile sops files", () => {
  // Each attacks the parser's time or memory (test/helpers/hostile-sops.ts):
  // before the parsers counted while reading, these took up to a minute and
  // 4.6 GB, or aborted node with nothing named (issue 22). Each must now end
  // as its own secret's MALFORMED, named, with the other secrets kept.
  // Time and peak memory of each: docs/security.md ("sops files").
  it.each(hostileSopsFiles.map((bomb) => [bomb.name, bomb] as const))("%s -> MALFORMED, named", (_, bomb) => {
    const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file: write(bomb.make()), format: bomb.format } }));
    expect(outcome.codes, outcome.stderr.slice(0, 2000)).toEqual(["MALFORMED"]);
    // A message may quote the start of a key (escaped quotes in the JSON log line).
    expect(outcome.stderr).toMatch(/"msg":"(?:[^"\\]|\\.)*hostile(?:[^"\\]|\\.)*(more than|nested deeper|not valid|outside the 64-bit range)/);
    expectUnchanged(outcome);
  });

  it("10,000 comments in scope of 3,000 values, with a comment rule -> CORRUPT (the MAC), each comment tested once", async () => {
    const recipient = runAgeboot(["recipient", `${host.key}.pub`]).stdout.trim();
    const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file: write(await commentScopeSops(recipient)), format: "yaml", key: "a/k0" } }));
    expect(outcome.codes, outcome.stderr.slice(0, 2000)).toEqual(["CORRUPT"]);
    expect(outcome.stderr).toContain("MAC mismatch");
    expectUnchanged(outcome);
  });

  it("one age entry of 15 MiB -> MALFORMED, refused before it is decoded", () => {
    const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file: write(largeAgeEntrySops()), format: "json" } }));
    expect(outcome.codes, outcome.stderr.slice(0, 2000)).toEqual(["MALFORMED"]);
    expect(outcome.stderr).toContain("a sops age entry is larger than");
    expectUnchanged(outcome);
  });

  const hostTag = () => sshTag(Buffer.from(readFileSync(`${host.key}.pub`, "utf8").split(" ")[1]!, "base64"));
  it.each([
    ["JSON", "256", "X25519", () => stanzaBombSops("json", "X25519", 256)],
    ["JSON", "256", "ssh-ed25519 (with the host key's tag)", () => stanzaBombSops("json", "ssh-ed25519", 256, 256, hostTag())],
    ["YAML", "64", "ssh-ed25519 (with the host key's tag)", () => stanzaBombSops("yaml", "ssh-ed25519", 64, 256, hostTag())],
  ] as const)("%s: %s age entries of 256 %s stanzas -> MALFORMED, the stanzas of one file bounded together", (format, _, __, make) => {
    const outcome = activate(baseManifest({ good: { file: goodFile }, hostile: { file: write(make()), format: format === "JSON" ? "json" : "yaml" } }));
    expect(outcome.codes, outcome.stderr.slice(0, 2000)).toEqual(["MALFORMED"]);
    expect(outcome.stderr).toContain("recipient stanzas together");
    expectUnchanged(outcome);
  });
});

describe("hostile manifests", () => {
  // Every case is classified in process by the unit tier. Through the CLI: the
  // ones that attack memory or time must also end in exit 4 with nothing touched.
  const throughTheCli = new Set(["a YAML alias bomb", "JSON nested 100,000 deep"]);
  it.each(hostileManifests.filter(([name]) => throughTheCli.has(name)))("%s -> MANIFEST", (_, make) => {
    const path = join(host.root, "hostile-manifest.yaml");
    writeFileSync(path, make());
    const outcome = activateManifestFile(path);
    expect(outcome.status).toBe(4);
    expect(outcome.codes).toContain("MANIFEST");
    expectUnchanged(outcome);
  });

  it("a manifest larger than 64 MiB -> MANIFEST, without reading it into memory", () => {
    const path = join(host.root, "huge-manifest.json");
    writeFileSync(path, "");
    truncateSync(path, 65 * 1024 * 1024);
    const outcome = activateManifestFile(path);
    expect(outcome.status).toBe(4);
    expect(outcome.codes).toContain("MANIFEST");
    expectUnchanged(outcome);
  });
});

describe("hostile identity files (the only identity paths)", () => {
  it("all of them together -> NO_IDENTITY, each one named, nothing touched", async () => {
    // Each file alone is checked in process by the unit tier (test/unit/hostile-keys.test.ts).
    const files = await makeHostileIdentityFiles(keys);
    const outcome = activate(baseManifest({ good: { file: goodFile } }, files));
    expect(outcome.status).toBe(3);
    expect(outcome.codes).toContain("NO_IDENTITY");
    for (const path of files) expect(outcome.stderr).toContain(`"msg":"${path}: `);
    expectUnchanged(outcome);
  });
});

describe("hostile templates", () => {
  // A root-owned template is rendered from secrets by placeholders; whoever can
  // choose its text chooses what goes into a file someone reads. Each case fails
  // the template, named, with no stack trace, and the current generation stays.
  const dir = join(host.root, "templates");
  mkdirSync(dir, { mode: 0o755 });
  let secrets: Record<string, unknown> = {};
  beforeAll(() => {
    secrets = {
      good: { file: goodFile },
      big: { file: host.encrypt(Buffer.alloc(17 * 1024 * 1024, "b")) },
      kib: { file: host.encrypt(Buffer.alloc(4096, "k")) },
    };
  });

  it.each(hostileTemplates)("%s -> the template fails, nothing changes", (_, make) => {
    const outcome = activate({ ...baseManifest(secrets), templates: { t: make(dir, TEST_USERS.alice) } });
    expect(outcome.codes, outcome.stderr).toContain("PLAN");
    expect(outcome.stderr).toMatch(/"msg":"template t: /);
    expectUnchanged(outcome);
  });
});

describe("hostile inputs to activate --user", () => {
  // alice runs ageboot for herself; bob, another local user, or a manifest asking
  // for more than her own rights, must get nothing: no secret of hers read or
  // placed where bob chose, nothing written outside what is hers.
  const { alice, bob } = TEST_USERS;
  const dir = join(host.root, "user-mode");
  mkdirSync(dir, { mode: 0o755 });
  let session: UserSession;
  const encrypt = (value: string) => host.encrypt(value, `${session.key}.pub`);
  const secretsDir = () => join(session.runtimeDir, "agenix");
  let good = "";
  const runAsAlice = (document: Record<string, unknown>) => {
    writeFileSync(session.manifest, JSON.stringify({ version: 1, ...document }), { mode: 0o644 });
    return runAgeboot(["activate", "--user", "--manifest", session.manifest], {
      asUser: { uid: alice.uid, gid: alice.gid },
      env: { HOME: session.home, XDG_RUNTIME_DIR: session.runtimeDir },
    });
  };
  beforeAll(() => {
    session = newUserSession(host, alice);
    good = encrypt("good-value");
    const first = runAsAlice({ secrets: { good: { file: good } } });
    expect(first.status, first.stderr).toBe(0);
  });

  it.each(hostileUserCases.map((entry) => [entry.name, entry] as const))("%s", (_, entry) => {
    const before = readlinkSync(secretsDir());
    const { item, untouched } = entry.build({ session, bob, dir, encrypt });
    const document = entry.kind === "secret" ? { secrets: { good: { file: good }, hostile: item } } : { secrets: { good: { file: good } }, templates: { hostile: item } };
    const result = runAsAlice(document);
    expect(result.status, result.stderr).not.toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain(CANARY);
    expect(result.stderr).toMatch(new RegExp(`${entry.kind} hostile.*${entry.message.source}`));
    if (entry.expect === "item fails") expect(readlinkSync(secretsDir())).toBe(before);
    if (untouched !== undefined) expect(existsSync(untouched) ? readdirSync(untouched) : []).toEqual([]);
    expect(readdirSync(secretsDir())).toContain("good");
  });
});
