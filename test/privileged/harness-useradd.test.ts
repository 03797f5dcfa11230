// The suite's private /etc/passwd survives a host adding a user during the run
// (issue 21, item 8). useradd writes passwd+ and renames it over passwd; a
// rename over a dentry that is a mount point in another namespace detaches
// those mounts everywhere (Linux 3.18+), which is how a bind mount of the
// private file was lost. Here the "host" is this test's namespace and the
// suite's set-up runs in a child namespace over a scratch etc/, so the real
// useradd (-P: its files under a prefix) never touches this machine's
// /etc/passwd. The first case is the old bind mount, to show the test fails
// where the harness did.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRIVATE_ETC_SCRIPT, requirePrivateNamespace } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";

beforeAll(requirePrivateNamespace);
const { dir: scratch, cleanup } = tempDir("ageboot-useradd-");
afterAll(cleanup);

const PRIVATE_USER = "agetest-private:x:4199:4199::/nonexistent:/usr/sbin/nologin";
let hostCounter = 0;

/**
 * A scratch root with this machine's passwd and group; a child in a mount
 * namespace of its own sets up its private view with `setUp` (a shell
 * command; $ETC, $FILES and $WORK are set), then `useradd -P` runs out here,
 * and the child reports what its etc/passwd then holds.
 */
async function privateViewAfterUseradd(setUp: string): Promise<{ privateView: string; hostView: string }> {
  const root = join(scratch, `host-${hostCounter++}`);
  const etc = join(root, "etc");
  const files = join(root, "files");
  mkdirSync(etc, { recursive: true });
  mkdirSync(files);
  for (const name of ["passwd", "group"]) copyFileSync(join("/etc", name), join(etc, name));
  writeFileSync(join(files, "passwd"), `${readFileSync(join(etc, "passwd"), "utf8")}${PRIVATE_USER}\n`);
  const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "bash", "-c", `${setUp} && echo ready && read -r _ && cat "$ETC/passwd"`], {
    env: { ...process.env, ETC: etc, FILES: files, WORK: join(root, "work"), SCRIPT: PRIVATE_ETC_SCRIPT },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith("ready\n")) resolve();
    });
    child.on("exit", () => reject(new Error(`the private view was not set up: ${output}`)));
  });
  execFileSync("useradd", ["--prefix", root, "--no-create-home", "--no-user-group", "agetest-added"]);
  child.stdin.end("\n");
  expect(await exited).toBe(0);
  return { privateView: output.slice("ready\n".length), hostView: readFileSync(join(etc, "passwd"), "utf8") };
}

describe("a host useradd during the run", () => {
  it("drops a bind mount of a private passwd (what the harness did before)", async () => {
    const { privateView, hostView } = await privateViewAfterUseradd('mount --bind "$FILES/passwd" "$ETC/passwd"');
    expect(hostView).toContain("agetest-added:");
    expect(privateView).not.toContain("agetest-private:");
  });

  it("leaves the overlay of the private files in place (test/helpers/private-etc.sh)", async () => {
    const { privateView, hostView } = await privateViewAfterUseradd('bash "$SCRIPT" "$ETC" "$FILES" "$WORK"');
    expect(hostView).toContain("agetest-added:");
    expect(hostView).not.toContain("agetest-private:");
    expect(privateView).toContain(`${PRIVATE_USER}\n`);
  });
});

describe("the suite's own view", () => {
  it("is the overlay, so the host renaming /etc/passwd cannot undo it", () => {
    const etcMount = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((line) => line.split(" ")[4] === "/etc")
      .at(-1);
    expect(etcMount).toMatch(/ - overlay ageboot-test-etc /);
    expect(readFileSync("/etc/passwd", "utf8")).toContain("agetest-alice:");
  });
});
