// The memory a crafted header costs the real CLI (issue 12, item 9): each
// file of test/helpers/hostile-headers.ts is decrypted by `ageboot decrypt`
// with every kind of host key, and its peak resident memory is compared with
// that of an ordinary file for none of those keys. (Processor time per file
// is held in test/unit/header-bounds.test.ts, in process, where start-up does
// not drown it.)
import { generateHybridIdentity } from "age-encryption";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_HEADER_BYTES, MAX_POST_QUANTUM_STANZAS, MAX_STANZAS } from "../../src/age/limits.js";
import { sshTag } from "../../src/identities/ssh-keys.js";
import { ageFileWithStanzas, hostileStanzas, stanzasFilling } from "../helpers/hostile-headers.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { runAgebootMeasured } from "../helpers/ageboot-process.js";
import { tempDir } from "../helpers/temp-dir.js";
import { ageEncrypt, ageKeygen, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

/** What a crafted file may add to the peak memory of a run, over an ordinary file. */
const EXTRA_MEMORY_BUDGET_KIB = 8 * 1024;
/** The bound for the whole run. */
const MEMORY_BUDGET_KIB = 64 * 1024;

const { dir, cleanup } = tempDir("ageboot-header-memory-");
afterAll(cleanup);
const keys: string[] = [];
let ourTag = "";
let baselineKiB = 0;

/** Run `ageboot decrypt` with every host key on `file`: its exit status, peak resident memory (KiB) and stderr size. */
function decryptMeasured(file: Buffer): { status: number; peakKiB: number; stderrBytes: number } {
  const path = join(dir, `crafted-${Math.random().toString(36).slice(2)}.age`);
  writeFileSync(path, file);
  const result = runAgebootMeasured(["decrypt", ...keys.flatMap((key) => ["-i", key]), path]);
  return { status: result.status, peakKiB: result.peakKiB, stderrBytes: Buffer.byteLength(result.stderr) };
}

beforeAll(async () => {
  const ed25519 = sshKeygen(dir, "ssh_host_ed25519_key", "ed25519");
  const rsa = sshKeygen(dir, "ssh_host_rsa_key", "rsa", { bits: 2048 });
  const [x25519] = ageKeygen(dir, "age-key.txt");
  const postQuantum = join(dir, "pq-key.txt");
  writeFileSync(postQuantum, `${await generateHybridIdentity()}\n`, { mode: 0o600 });
  keys.push(ed25519, rsa, x25519, postQuantum);
  ourTag = sshTag(Buffer.from(readFileSync(`${ed25519}.pub`, "utf8").split(" ")[1]!, "base64"));
  // An ordinary file for another key: what start-up, key loading and a no-match message cost.
  const other = sshKeygen(dir, "other_key", "ed25519");
  const runs = [0, 1, 2].map(() => decryptMeasured(ageEncrypt("an ordinary secret", [["-R", `${other}.pub`]])));
  expect(runs.map((run) => run.status)).toEqual([1, 1, 1]);
  baselineKiB = Math.max(...runs.map((run) => run.peakKiB));
}, 120_000);

const cases: Array<[string, () => string[]]> = [
  [`${MAX_STANZAS} X25519 stanzas`, () => hostileStanzas("X25519", MAX_STANZAS)],
  [`${MAX_STANZAS} ssh-ed25519 stanzas with this host's tag`, () => hostileStanzas("ssh-ed25519", MAX_STANZAS, ourTag)],
  [`${MAX_STANZAS} ssh-rsa stanzas`, () => hostileStanzas("ssh-rsa", MAX_STANZAS)],
  [`${MAX_POST_QUANTUM_STANZAS} mlkem768x25519 stanzas`, () => hostileStanzas("mlkem768x25519", MAX_POST_QUANTUM_STANZAS)],
  ["X25519 stanzas filling the header size limit", () => stanzasFilling("X25519", MAX_HEADER_BYTES)],
  ["ssh-ed25519 stanzas with this host's tag filling the header size limit", () => stanzasFilling("ssh-ed25519", MAX_HEADER_BYTES, ourTag)],
  ["ssh-rsa stanzas filling the header size limit", () => stanzasFilling("ssh-rsa", MAX_HEADER_BYTES)],
  ["mlkem768x25519 stanzas filling the header size limit", () => stanzasFilling("mlkem768x25519", MAX_HEADER_BYTES)],
];

describe("a crafted header costs a run little memory and a short message", () => {
  for (const [what, stanzas] of cases) {
    it(what, () => {
      const { status, peakKiB, stderrBytes } = decryptMeasured(ageFileWithStanzas(stanzas()));
      console.log(`${what}: exit ${status}, peak ${peakKiB} KiB (an ordinary file: ${baselineKiB} KiB), stderr ${stderrBytes} bytes`);
      expect(status).toBe(1);
      expect(peakKiB - baselineKiB).toBeLessThan(EXTRA_MEMORY_BUDGET_KIB);
      expect(peakKiB).toBeLessThan(MEMORY_BUDGET_KIB);
      expect(stderrBytes).toBeLessThan(8 * 1024);
    }, 60_000);
  }
});
