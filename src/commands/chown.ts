import { parseArgs } from "node:util";
import { applyOwnership } from "../activation/apply-ownership.js";
import type { Logger } from "../log.js";
import { loadManifest } from "../manifest/load.js";
import { DEFAULT_MANIFESTS, defaultManifestPath, lockTimeoutSeconds, refusePositionals } from "./manifest-arguments.js";

export const chownHelp = `Usage: ageboot chown [--manifest PATH]

Give every secret of the current generation (and every "symlink: false" copy)
the owner, group and mode the manifest declares. The second half of an
activation that ran before the users existed ("ageboot activate
--defer-unknown-owners", as the NixOS module does ahead of its users step);
files that are right already are left alone.

Exits 1 naming each secret whose owner or group still does not exist.

Options:
  --manifest PATH          JSON or YAML manifest (default: ${DEFAULT_MANIFESTS.join(", then ")})
  --lock-timeout SECONDS   wait this long for another run to finish (default 120)
  -h, --help               show this help`;

export async function runChown(args: string[], log: Logger): Promise<boolean> {
  const { values, positionals } = parseArgs({
    args,
    options: { manifest: { type: "string" }, "lock-timeout": { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${chownHelp}\n`);
    return true;
  }
  refusePositionals("chown", positionals);
  const lockTimeout = lockTimeoutSeconds(values["lock-timeout"]);
  const manifest = await loadManifest(values.manifest ?? defaultManifestPath());
  const { applied, failures } = await applyOwnership(manifest, log, lockTimeout);
  for (const failure of failures) log.error({ code: failure.code }, `${failure.kind} ${failure.name}: ${failure.message}`);
  const line = `ownership applied to ${applied.length} file${applied.length === 1 ? "" : "s"}, ${failures.length} failed`;
  if (failures.length > 0) log.error({ failed: failures.map((failure) => failure.name) }, line);
  else log.info(applied.length > 0 ? { applied } : {}, line);
  return failures.length === 0;
}
