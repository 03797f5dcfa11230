// Step 1 of a run: what the plan accepts, and the cause it names for each secret it does not.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planSecrets } from "../../src/activation/plan.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { UserDatabase } from "../../src/users.js";

const root = mkdtempSync(join(tmpdir(), "ageboot-plan-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const passwd = join(root, "passwd");
const group = join(root, "group");
writeFileSync(passwd, "root:x:0:0::/root:/bin/sh\npostgres:x:71:72::/var/lib/postgresql:/bin/sh\n# comment\n");
writeFileSync(group, "root:x:0:\npostgres:x:72:\nkeys:x:96:\n");
const file = join(root, "secret.age");
writeFileSync(file, "not read by the plan");
mkdirSync(join(root, "a-directory"));
// Names no NSS answers for: the plan asks getent only for names the files lack.
const nobodyKnows = "agetest-nobody-knows-me";

async function plan(settings: Record<string, unknown>) {
  const result = validateManifest({ version: 1, secretsDir: join(root, "run/agenix"), secretsMountPoint: join(root, "run/agenix.d"), secrets: { s: settings } });
  if ("problems" in result) throw new Error(result.problems.join("; "));
  const [outcome] = await planSecrets(result.manifest, UserDatabase.load(passwd, group));
  return outcome!;
}

describe("planSecrets", () => {
  it.each([
    [{ file }, { uid: 0, gid: 0, mode: 0o400 }],
    [
      { file, owner: "postgres" },
      { uid: 71, gid: 72, mode: 0o400 },
    ],
    [
      { file, owner: "postgres", group: "keys", mode: "0440" },
      { uid: 71, gid: 96, mode: 0o440 },
    ],
    [
      { file, owner: 4242 },
      { uid: 4242, gid: 0, mode: 0o400 },
    ],
    [
      { file, owner: "root", group: 4343 },
      { uid: 0, gid: 4343, mode: 0o400 },
    ],
  ])("resolves %j to %j", async (settings, ownership) => {
    const outcome = await plan(settings);
    expect(outcome.failed).toBeNull();
    expect(outcome.ownership).toEqual(ownership);
  });

  it.each([
    [{ file: join(root, "missing.age") }, "does not exist"],
    [{ file: join(root, "a-directory") }, "is not a regular file"],
    [{ file, owner: nobodyKnows }, `owner "${nobodyKnows}" does not exist`],
    [{ file, group: nobodyKnows }, `group "${nobodyKnows}" does not exist`],
  ])("fails %j: %s", async (settings, cause) => {
    const outcome = await plan(settings);
    expect(outcome.ownership).toBeNull();
    expect(outcome.failed).toMatchObject({ name: "s", code: "PLAN", message: expect.stringContaining(cause) });
  });

  it("names every problem of a secret at once", async () => {
    const outcome = await plan({ file: join(root, "missing.age"), owner: nobodyKnows });
    expect(outcome.failed?.message).toMatch(/does not exist; owner .* does not exist/);
  });
});
