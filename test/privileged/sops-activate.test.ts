// sops files activated by the real CLI beside age files, on a real ramfs in a
// private mount namespace: a YAML with nested keys, a JSON, a dotenv and a
// binary file, all encrypted (by the test encoder) to the age1 recipient that
// `ageboot recipient` derives from the host's ssh-keygen ed25519 key, which is
// how sops-nix hosts are keyed. Every plaintext carries the canary.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { craftBinary, craftDotenv, craftJson, craftYaml } from "../helpers/sops-craft.js";

beforeAll(requirePrivateNamespace);
const newHost = hostPerTest();

describe("sops secrets", () => {
  it("installs values by key path and whole files beside age secrets, and a tampered file fails with the previous generation kept", async () => {
    const host = newHost();
    const derived = runAgeboot(["recipient", `${host.key}.pub`]);
    expect(derived.status, derived.stderr).toBe(0);
    const recipients = [derived.stdout.trim()];
    const yamlFile = join(host.root, "secrets.yaml");
    writeFileSync(yamlFile, await craftYaml({ backrest: { rest_password: `rest-${CANARY}`, nested: { deep: `deep-${CANARY}` } }, api: `api-${CANARY}` }, { recipients }));
    const jsonFile = join(host.root, "secrets.json");
    writeFileSync(jsonFile, await craftJson({ db: { password: `db-${CANARY}` } }, { recipients }));
    const envFile = join(host.root, "app.env");
    writeFileSync(envFile, await craftDotenv({ TOKEN: `env-${CANARY}`, OTHER: "x" }, { recipients }));
    const binFile = join(host.root, "cert.bin");
    const binary = `-----BEGIN CERT-----\n${CANARY}\n\u0001\u00fe-----END CERT-----\n`;
    writeFileSync(binFile, await craftBinary(binary, { recipients }));
    host.writeManifest({
      "backrest/rest_password": { file: yamlFile, format: "yaml" },
      deep: { file: yamlFile, format: "yaml", key: "backrest/nested/deep" },
      api: { file: yamlFile, format: "yaml" },
      whole: { file: yamlFile, format: "yaml", key: "" },
      "db-password": { file: jsonFile, format: "json", key: "db/password" },
      env: { file: envFile, format: "dotenv" },
      cert: { file: binFile, format: "binary" },
      plain: { file: host.encrypt("age-file") },
    });
    const first = host.activate();
    expect(first.status, first.stderr).toBe(0);
    const current = () => readFileSync(join(host.secretsDir, "backrest/rest_password"), "utf8");
    expect(current()).toBe(`rest-${CANARY}`);
    expect(readFileSync(join(host.secretsDir, "deep"), "utf8")).toBe(`deep-${CANARY}`);
    expect(readFileSync(join(host.secretsDir, "api"), "utf8")).toBe(`api-${CANARY}`);
    expect(readFileSync(join(host.secretsDir, "whole"), "utf8")).toBe(
      `backrest:\n    rest_password: rest-${CANARY}\n    nested:\n        deep: deep-${CANARY}\napi: api-${CANARY}\n`,
    );
    expect(readFileSync(join(host.secretsDir, "db-password"), "utf8")).toBe(`db-${CANARY}`);
    expect(readFileSync(join(host.secretsDir, "env"), "utf8")).toBe(`TOKEN=env-${CANARY}\nOTHER=x\n`);
    expect(readFileSync(join(host.secretsDir, "cert"), "latin1")).toBe(Buffer.from(binary, "utf8").toString("latin1"));
    expect(host.read("plain")).toBe("age-file");
    host.assertNoPlaintextOnDisk();

    // lastmodified edited: the MAC no longer authenticates; nothing visible changes.
    writeFileSync(yamlFile, readFileSync(yamlFile, "utf8").replace(/lastmodified: "?([^"\n]+)"?/, 'lastmodified: "2030-01-01T00:00:00Z"'));
    const tampered = host.activate();
    expect(tampered.status).not.toBe(0);
    expect(tampered.stderr).toContain("backrest/rest_password");
    expect(tampered.stderr).toContain("the MAC does not authenticate with lastmodified");
    expect(tampered.stderr).not.toContain(CANARY);
    expect(current()).toBe(`rest-${CANARY}`);
  });
});
