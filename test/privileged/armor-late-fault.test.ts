// A large armored secret is decoded in one pass, as it is decrypted
// (src/age/armored-file.ts), so a bad character deep in it is found only once
// part of its plaintext has been written into the staged generation. The
// activation must still fail that secret by name and line, keep the
// current generation and its value, and leave no partial file behind.
import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { ageEncrypt } from "../helpers/tools.js";
import { TestHost } from "../helpers/host.js";

beforeAll(requirePrivateNamespace);

const host = hostPerFile();

it("a bad character deep in a large armored secret fails it, keeps the current generation and leaves no partial file", () => {
  host.writeManifest({ big: { file: host.encrypt("the current value") } });
  const first = host.activate();
  expect(first.status, first.stderr).toBe(0);
  const current = readlinkSync(host.secretsDir);

  // Larger than what is read whole (4 MiB), so streamed; the fault about 4.6 MiB into the file.
  const armored = ageEncrypt(TestHost.withCanary(randomBytes(6 * 1024 * 1024).toString("base64")), [["-R", `${host.key}.pub`]], true).toString("latin1");
  const lines = armored.split("\n");
  const lineNumber = 75_000;
  lines[lineNumber - 1] = `${lines[lineNumber - 1]!.slice(0, 10)}*${lines[lineNumber - 1]!.slice(11)}`;
  const damaged = join(host.root, "damaged.age");
  writeFileSync(damaged, lines.join("\n"), "latin1");
  host.writeManifest({ big: { file: damaged } });

  const second = host.activate();
  expect(second.status).not.toBe(0);
  expect(second.stderr).toMatch(new RegExp(`big.*malformed ASCII armor \\(line ${lineNumber}: a character outside base64`));
  expect(readlinkSync(host.secretsDir)).toBe(current);
  expect(host.read("big")).toBe("the current value");
  // Only the current generation's directory is left on the mount: the failed one was removed.
  const generations = readdirSync(host.mountPoint).filter((name) => /^\d+$/.test(name));
  expect(generations).toEqual([current.split("/").at(-1)]);
}, 60_000);
