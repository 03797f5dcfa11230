import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkManifest, type Principals } from "../check/check-manifest.js";
import { readHostPublicKey } from "../check/host-keys.js";
import { AgebootError, describeCause } from "../errors.js";
import type { Logger } from "../log.js";
import { loadManifest } from "../manifest/load.js";
import { UserDatabase } from "../users.js";
import { DEFAULT_MANIFESTS, defaultManifestPath, refusePositionals } from "./manifest-arguments.js";

export const checkHelp = `Usage: ageboot check [--manifest PATH] [--host-key PUB]... [--users FILE]

Check a manifest with everything that can be known without the private key
and without root, so that a mistake fails the build instead of the boot:
the manifest is valid; every file exists and is a well-formed age file
(binary or armored); with --host-key, each file has a stanza for one of those
public keys; every owner and group exists; every placeholder in a template
names a declared secret. A sops file parses, its key path exists and holds a
string; with --host-key, one of its age recipients is the host's (the age1...
that ssh-to-age derives from an ed25519 key, or the ssh key itself).

An age file encrypted only to age1... recipients (X25519 stanzas, as ssh-to-age
makes) names no recipient in its header: that it is for this host is
reported as unknown, not as a problem.

Options:
  --manifest PATH    JSON or YAML manifest (default: ${DEFAULT_MANIFESTS.join(", then ")})
  --host-key PUB     an OpenSSH public key file of the host (ssh_host_ed25519_key.pub,
                     ssh_host_rsa_key.pub); repeatable
  --users FILE       JSON {"users": [...], "groups": [...]}: the users and groups the
                     configuration declares, checked instead of this machine's
                     (numeric ids are always accepted)
  -h, --help         show this help

Exit status: 0 every secret is fine, 1 a secret has a problem (each is named),
2 usage error, 4 invalid manifest.`;

export async function runCheck(args: string[], log: Logger): Promise<boolean> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      manifest: { type: "string" },
      "host-key": { type: "string", multiple: true },
      users: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${checkHelp}\n`);
    return true;
  }
  refusePositionals("check", positionals);
  const hostKeys = (values["host-key"] ?? []).map(readHostPublicKey);
  const principals: Principals = values.users === undefined ? { kind: "this machine", database: UserDatabase.load() } : readDeclaredPrincipals(values.users);
  const manifest = await loadManifest(values.manifest ?? defaultManifestPath());

  const checks = await checkManifest(manifest, hostKeys, principals);
  for (const check of checks) {
    for (const problem of check.problems) log.error(`${check.kind} ${check.name}: ${problem}`);
    for (const note of check.notes) log.info(`${check.kind} ${check.name}: ${note}`);
  }
  const failed = checks.filter((check) => check.problems.length > 0).map((check) => check.name);
  const secretCount = checks.filter((check) => check.kind === "secret").length;
  const templateCount = checks.length - secretCount;
  const templates = templateCount === 0 ? "" : ` and ${templateCount} template${templateCount === 1 ? "" : "s"}`;
  const line = `checked ${secretCount} secret${secretCount === 1 ? "" : "s"}${templates}${hostKeys.length === 0 ? " (no --host-key: not checking who they are encrypted to)" : ""}: ${failed.length} with problems`;
  if (failed.length > 0) log.error({ failed }, line);
  else log.info(line);
  return failed.length === 0;
}

/** The --users file: small JSON with two lists of names. */
function readDeclaredPrincipals(path: string): Principals {
  let parsed: unknown;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > 16 * 1024 * 1024) throw new Error("larger than 16 MiB");
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new AgebootError("USAGE", `--users ${path}: cannot read (${describeCause(error)})`);
  }
  const list = (field: string): Set<string> => {
    const value = (parsed as Record<string, unknown> | null)?.[field];
    if (!Array.isArray(value) || !value.every((name) => typeof name === "string")) {
      throw new AgebootError("USAGE", `--users ${path}: "${field}" must be a list of names`);
    }
    return new Set(value as string[]);
  };
  return { kind: "declared", users: list("users"), groups: list("groups") };
}
