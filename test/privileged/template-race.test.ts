// Templates rendered from bytes no user can change (issue 22, item 1), under a
// real race. alice owns a secret that a root-owned template names. While the
// host activates again and again (in process, each a full run: stage, render,
// custom paths, commit), alice, as an unprivileged process, tries in a tight
// loop to rewrite her staged secret in the generation being made: chmod u+w
// and append a line of her own ("inject"), or grow it past the 16 MiB a
// template may hold ("grow"). Before the fix, step 5 gave her the file and
// step 5b read it back: her line reached root's template in most runs, and a
// grown file failed the template and with it the whole generation. Now no run
// may fail, and root's template must hold exactly the decrypted bytes, every time.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { activate } from "../../src/activate.js";
import { loadManifest } from "../../src/manifest/load.js";
import { placeholderFor } from "../../src/templates/placeholder.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const host = hostPerFile();
// alice must reach the mount (0751) inside the test root, as she reaches /run on a real host.
chmodSync(host.root, 0o755);
const ACTIVATIONS = 200;
const MARK = "LD_PRELOAD=/home/alice/evil.so";

/**
 * alice's loop: the generation being made is the current one plus one; she
 * reads which is current from secretsDir (a link anyone can read), and tries
 * that one and the next, for as long as she runs. Prints how often she
 * reached a file of hers in a new generation, and how many of her writes
 * landed, when told to stop (SIGTERM).
 */
const ATTACKER = `
import os, signal, sys
secrets_dir, mount_point, name, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
landed = 0
reached = 0
def stop(*_):
    sys.stdout.write("%d %d\\n" % (reached, landed)); sys.stdout.flush(); os._exit(0)
signal.signal(signal.SIGTERM, stop)
sys.stdout.write("ready\\n"); sys.stdout.flush()
line = b"\\n${MARK}\\n"
while True:
    try:
        current = int(os.readlink(secrets_dir).rsplit("/", 1)[1])
    except (OSError, ValueError):
        current = 0
    for generation in (current + 1, current + 2):
        path = "%s/%d/%s" % (mount_point, generation, name)
        try:
            if os.stat(path).st_uid == os.getuid():
                reached += 1
            os.chmod(path, 0o600)
            if mode == "grow":
                os.truncate(path, 17 * 1024 * 1024)
            else:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                os.write(fd, line)
                os.close(fd)
            landed += 1
        except OSError:
            pass
`;

let attacker: ChildProcess | null = null;

afterEach(() => {
  attacker?.kill("SIGKILL");
  attacker = null;
});

async function startAttacker(mode: "inject" | "grow"): Promise<{ stop: () => Promise<{ reached: number; landed: number }> }> {
  const child = spawn("python3", ["-c", ATTACKER, host.secretsDir, host.mountPoint, "alice-db", mode], { uid: alice.uid, gid: alice.gid, stdio: ["ignore", "pipe", "inherit"] });
  attacker = child;
  const lines: string[] = [];
  let waiting: (() => void) | null = null;
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    lines.push(...text.split("\n").filter(Boolean));
    waiting?.();
  });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (lines.length > 0) resolve(lines.shift()!);
        else waiting = check;
      };
      child.once("exit", (code) => reject(new Error(`the attacker exited (${code})`)));
      check();
    });
  expect(await nextLine()).toBe("ready");
  return {
    stop: async () => {
      child.kill("SIGTERM");
      const [reached, landed] = (await nextLine()).split(" ").map(Number);
      return { reached: reached!, landed: landed! };
    },
  };
}

beforeAll(() => {
  const others = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`other-${i}`, { file: host.encrypt(`other-${i}`) }]));
  host.writeManifest(
    {
      "alice-db": { file: host.encrypt("alice-password"), owner: alice.name, mode: "0400" },
      "root-token": { file: host.encrypt("root-token") },
      ...others,
    },
    { templates: { "app.env": { content: `DB_PASSWORD=${placeholderFor("alice-db")}\nTOKEN=${placeholderFor("root-token")}\n` } } },
  );
});

const expected = `DB_PASSWORD=alice-password\n${CANARY}\nTOKEN=root-token\n${CANARY}\n`;

describe("alice rewriting her staged secret while a root template is rendered from it", () => {
  it.each(["inject", "grow"] as const)("%s: every run installs, and root's template holds only what was decrypted", async (mode) => {
    const manifest = await loadManifest(host.manifestPath);
    const log = pino({ level: "silent" });
    const { stop } = await startAttacker(mode);
    const failedRuns: string[] = [];
    let foreign = 0;
    for (let run = 0; run < ACTIVATIONS; run++) {
      const result = await activate(manifest, { log });
      const failures = result.outcomes.filter((outcome) => outcome.failed !== null).map((outcome) => `${outcome.name}: ${outcome.failed!.message}`);
      if (!result.installed || failures.length > 0) failedRuns.push(`run ${run}: ${failures.join("; ") || "not installed"}`);
      else if (readFileSync(join(host.secretsDir, "rendered/app.env"), "utf8") !== expected) foreign++;
    }
    const { reached, landed } = await stop();
    // The figures docs/reliability.md quotes.
    console.log(
      `template race (${mode}): ${ACTIVATIONS} activations, alice reached her file in a new generation ${reached} times and ${landed} of her writes landed, ${failedRuns.length} runs failed, ${foreign} templates held foreign bytes`,
    );
    // The attack was real: she reached her own files in new generations. Her writes land only
    // where the files are not immutable (a ramfs; src/activation/immutable.ts), and then on her
    // own, already handed-over file, after rendering: never in root's template.
    expect(reached).toBeGreaterThan(0);
    expect({ failedRuns: failedRuns.slice(0, 3), failed: failedRuns.length, foreign }).toEqual({ failedRuns: [], failed: 0, foreign: 0 });
    // Her secret is still given to her, as declared (what she then writes into it is hers alone to read).
    const info = statSync(join(host.secretsDir, "alice-db"));
    expect([info.uid, info.gid]).toEqual([alice.uid, alice.gid]);
  });
});
