// A 256 MiB secret in ASCII armor must activate in about the memory the same
// secret takes in binary (issue 12, item 4). Armored files used to be read
// whole and decoded through strings: 2.7 GB of memory for this one, and an
// OOM kill at boot on a small host with a few of them.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { agebootCommand } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const SIZE_MIB = 256;
/** The bound: peak memory with armor within 20% of the binary case. */
const ALLOWED_RATIO = 1.2;

const host = new TestHost();
afterAll(() => {
  spawnSync("umount", ["-R", host.mountPoint]);
  host.cleanup();
});
const plaintextPath = join(host.root, "plaintext");
let plaintextHash = "";

beforeAll(async () => {
  execFileSync("sh", ["-c", `head -c ${SIZE_MIB}M /dev/urandom > "$1"`, "sh", plaintextPath]);
  plaintextHash = await sha256(plaintextPath);
  for (const [name, armor] of [["binary.age", ""], ["armored.age", "--armor"]] as const) {
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
  writeFileSync(manifest, JSON.stringify({ version: 1, secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths: [host.key], keepGenerations: 0, secrets: { big: { file } } }));
  const [command, args] = agebootCommand(["activate", "--manifest", manifest]);
  const measure = "import resource, subprocess, sys\nstatus = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\nprint(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
  const result = spawnSync("python3", ["-c", measure, command, ...args], { encoding: "utf8" });
  const [status, peak] = result.stdout.trim().split(" ").map(Number);
  expect(status, result.stderr).toBe(0);
  return peak!;
}

it(`a ${SIZE_MIB} MiB armored secret activates within ${ALLOWED_RATIO}x the peak memory of the binary one`, async () => {
  const binary = activatePeakKiB(join(host.root, "binary.age"));
  expect(await sha256(join(host.secretsDir, "big"))).toBe(plaintextHash);
  const armored = activatePeakKiB(join(host.root, "armored.age"));
  expect(await sha256(join(host.secretsDir, "big"))).toBe(plaintextHash);
  console.log(`peak resident memory: binary ${binary} KiB, armored ${armored} KiB (${((armored / binary) * 100).toFixed(0)}%)`);
  expect(armored).toBeLessThan(binary * ALLOWED_RATIO);
}, 300_000);
