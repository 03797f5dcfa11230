// First boot with every crafted sops file of the hostile corpus
// (test/helpers/hostile-sops.ts) beside good secrets of each kind, by the real
// CLI on a real ramfs. Before the parsers counted while reading, the first
// bomb aborted node (heap out of memory) with no secret named, and at first
// boot nothing at all was installed (issue 22). Now each bomb fails alone,
// named, and every other secret is installed in generation 1.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sshTag } from "../../src/identities/ssh-keys.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { hostileSopsFiles, keyedHostileSops, stanzaBombSops } from "../helpers/hostile-sops.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { craftBinary, craftDotenv, craftIni, craftJson, craftYaml } from "../helpers/sops-craft.js";

beforeAll(requirePrivateNamespace);
const newHost = hostPerTest();

describe("hostile sops files at first boot", () => {
  it("each fails alone, named, and every other secret is installed", async () => {
    const host = newHost();
    const derived = runAgeboot(["recipient", `${host.key}.pub`]);
    expect(derived.status, derived.stderr).toBe(0);
    const recipients = [derived.stdout.trim()];
    const good = (name: string, contents: string) => {
      const path = join(host.root, name);
      writeFileSync(path, contents);
      return path;
    };
    const secrets: Record<string, { file: string; format?: string; key?: string }> = {
      "age-good": { file: host.encrypt("age-value") },
      "yaml-good": { file: good("good.yaml", await craftYaml({ value: `yaml-${CANARY}` }, { recipients })), format: "yaml", key: "value" },
      "json-good": { file: good("good.json", await craftJson({ value: `json-${CANARY}` }, { recipients })), format: "json", key: "value" },
      "dotenv-good": { file: good("good.env", await craftDotenv({ VALUE: `dotenv-${CANARY}` }, { recipients })), format: "dotenv" },
      "ini-good": { file: good("good.ini", await craftIni({ section: { value: `ini-${CANARY}` } }, { recipients })), format: "ini" },
      "binary-good": { file: good("good.bin", await craftBinary(`binary-${CANARY}`, { recipients })), format: "binary" },
    };
    const hostile: string[] = [];
    for (const [index, bomb] of hostileSopsFiles.entries()) {
      const name = `hostile-${index}`;
      secrets[name] = { file: good(`${name}.${bomb.format}`, bomb.make()), format: bomb.format };
      hostile.push(name);
    }
    const tag = sshTag(Buffer.from(readFileSync(`${host.key}.pub`, "utf8").split(" ")[1]!, "base64"));
    secrets["hostile-stanzas"] = { file: good("stanzas.json", stanzaBombSops("json", "ssh-ed25519", 256, 256, tag)), format: "json" };
    hostile.push("hostile-stanzas");
    for (const keyed of await keyedHostileSops(recipients[0]!)) {
      secrets[keyed.name] = { file: good(`${keyed.name}.${keyed.format}`, keyed.contents), format: keyed.format };
      hostile.push(keyed.name);
    }
    host.writeManifest(secrets);

    const result = runAgeboot(["--log-format", "json", "activate", "--manifest", host.manifestPath]);
    expect(result.status, result.stderr.slice(-3000)).toBe(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const errors = result.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: number; code?: string; msg: string; failed?: string[] })
      .filter((record) => record.level >= 50);
    for (const name of hostile)
      expect(
        errors.some((record) => record.code === "MALFORMED" && record.msg.startsWith(`secret ${name}: `)),
        name,
      ).toBe(true);
    expect(errors.find((record) => record.failed !== undefined)?.msg).toMatch(new RegExp(`^generation 1 is current: 6 added, .* ${hostile.length} failed$`));

    expect(host.read("age-good")).toBe("age-value");
    for (const format of ["yaml", "json", "binary"]) expect(readFileSync(join(host.secretsDir, `${format}-good`), "utf8")).toBe(`${format}-${CANARY}`);
    expect(readFileSync(join(host.secretsDir, "dotenv-good"), "utf8")).toBe(`VALUE=dotenv-${CANARY}\n`);
    expect(readFileSync(join(host.secretsDir, "ini-good"), "utf8")).toContain(`value = ini-${CANARY}`);
    host.assertNoPlaintextOnDisk();
  });
});
