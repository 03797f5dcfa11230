// A 256 MiB secret in ASCII armor must activate in about the memory the same
// secret takes in binary (issue 12, item 4). Armored files used to be read
// whole and decoded through strings: 2.7 GB of memory for this one, and an
// OOM kill at boot on a small host with a few of them.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { runAgebootMeasured } from "../helpers/ageboot-process.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";

beforeAll(requirePrivateNamespace);

const SIZE_MIB = 256;
/** The bound: peak memory with armor within 20% of the binary case. */
const ALLOWED_RATIO = 1.2;

const host = hostPerFile();
const plaintextPath = join(host.root, "plaintext");
let plaintextHash = "";

beforeAll(async () => {
  execFileSync("sh", ["-c", `head -c ${SIZE_MIB}M /dev/urandom > "$1"`, "sh", plaintextPath]);
  plaintextHash = await sha256(plaintextPath);
  for (const [name, armor] of [
    ["binary.age", ""],
    ["armored.age", "--armor"],
  ] as const) {
    execFileSync("sh", ["-c", `age --encrypt -R "$1" ${armor} -o "$2" "$3"`, "sh", `${host.key}.pub`, join(host.root, name), plaintextPath]);
  }
  rmSync(plaintextPath);
}, 180_000);

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

/** Activate one secret from `file` in a fresh generation; the peak resident memory of ageboot, in KiB (getrusage of the child). */
function activatePeakKiB(file: string): number {
  const manifest = join(host.root, "memory-manifest.json");
  writeFileSync(
    manifest,
    JSON.stringify({ version: 1, secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths: [host.key], keepGenerations: 0, secrets: { big: { file } } }),
  );
  const result = runAgebootMeasured(["activate", "--manifest", manifest]);
  expect(result.status, result.stderr).toBe(0);
  return result.peakKiB;
}

it(`a ${SIZE_MIB} MiB armored secret activates within ${ALLOWED_RATIO}x the peak memory of the binary one`, async () => {
  const binary = activatePeakKiB(join(host.root, "binary.age"));
  expect(await sha256(join(host.secretsDir, "big"))).toBe(plaintextHash);
  const armored = activatePeakKiB(join(host.root, "armored.age"));
  expect(await sha256(join(host.secretsDir, "big"))).toBe(plaintextHash);
  console.log(`peak resident memory: binary ${binary} KiB, armored ${armored} KiB (${((armored / binary) * 100).toFixed(0)}%)`);
  expect(armored).toBeLessThan(binary * ALLOWED_RATIO);
}, 300_000);
