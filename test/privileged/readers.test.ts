// Invariant 1 seen from a service: a reader that keeps opening every secret
// through secretsDir while activations run must never see a missing, empty or
// partial file.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const host = hostPerFile();

const ACTIVATIONS = 200;
const NAMES = ["a", "b", "nested/c", "big"];

/** Two versions of every secret; activations alternate between them. */
function valueFor(name: string, version: number): string {
  return name === "big" ? `${version}`.repeat(200_000) : `${name}-version-${version}`;
}

it(`a reader loop sees only complete values across ${ACTIVATIONS} activations`, async () => {
  const manifests = [0, 1].map((version) => {
    const path = join(host.root, `manifest-${version}.json`);
    const secrets = Object.fromEntries(NAMES.map((name) => [name, { file: host.encrypt(valueFor(name, version)) }]));
    writeFileSync(path, JSON.stringify({ version: 1, secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths: [host.key], keepGenerations: 1, secrets }));
    return path;
  });
  const first = runAgeboot(["activate", "--manifest", manifests[0]!]);
  expect(first.status, first.stderr).toBe(0);

  // The reader is a separate process, as a service would be. The values it may
  // see reach it on stdin: plaintext is never written outside the secrets mount.
  const allowed = Object.fromEntries(NAMES.map((name) => [name, [0, 1].map((version) => TestHost.withCanary(valueFor(name, version)).toString())]));
  const reader = spawn(process.execPath, ["-e", readerScript(host.secretsDir)], { stdio: ["pipe", "pipe", "inherit"] });
  reader.stdin.end(JSON.stringify(allowed));
  let report = "";
  reader.stdout.on("data", (chunk: Buffer) => (report += chunk.toString()));
  const readerDone = new Promise((resolve) => reader.on("exit", resolve));
  // The activations below block this thread: start them once the reader has its values and reads.
  while (!report.startsWith("ready\n")) {
    expect(reader.exitCode, "the reader exited before it started reading").toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  for (let run = 1; run <= ACTIVATIONS; run++) {
    const result = runAgeboot(["activate", "--manifest", manifests[run % 2]!]);
    expect(result.status, result.stderr).toBe(0);
  }
  reader.kill("SIGTERM");
  await readerDone;
  const { reads, anomalies } = JSON.parse(report.slice("ready\n".length)) as { reads: number; anomalies: string[] };
  expect(anomalies).toEqual([]);
  expect(reads).toBeGreaterThan(ACTIVATIONS);
}, 300_000);

function readerScript(secretsDir: string): string {
  return `
    const fs = require("node:fs");
    const allowed = JSON.parse(fs.readFileSync(0, "utf8"));
    process.stdout.write("ready\\n");
    let reads = 0; const anomalies = [];
    let stop = false;
    process.on("SIGTERM", () => { stop = true; });
    function loop() {
      for (let i = 0; i < 20 && !stop; i++) {
        for (const name of Object.keys(allowed)) {
          let value;
          try { value = fs.readFileSync(${JSON.stringify(secretsDir)} + "/" + name, "utf8"); }
          catch (error) { anomalies.push(name + ": " + error.code); continue; }
          reads++;
          if (!allowed[name].includes(value)) anomalies.push(name + ": unexpected content of " + value.length + " bytes");
        }
      }
      if (stop) { process.stdout.write(JSON.stringify({ reads, anomalies: anomalies.slice(0, 20) })); process.exit(0); }
      setImmediate(loop);
    }
    loop();
  `;
}
