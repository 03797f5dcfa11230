// The README's first quick-start command, as a user runs it (as root: on a real
// ramfs in a private mount namespace). It also covers YAML manifests through
// the built bundle.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { repoRoot } from "../helpers/paths.js";

beforeAll(requirePrivateNamespace);

it("npm run demo activates, rotates, and keeps the generation when a secret breaks", () => {
  const result = spawnSync("bash", [join(repoRoot, "demo/run.sh")], { encoding: "utf8" });
  const output = result.stdout + result.stderr;
  expect(result.status, output).toBe(0);
  expect(output).toContain("generation 1 is current: 3 added");
  expect(output).toContain("generation 2 is current: 0 added, 1 changed, 0 removed, 2 unchanged, 0 failed");
  expect(output).toContain("nothing changed, generation 2 stays current");
  expect(output).toContain("(exit status 1, as expected)");
  expect(output).toMatch(/db-password\s+nobody:nogroup 440/);
  expect(output).not.toContain("demo-db-password-not-a-secret"); // values are never printed
});
