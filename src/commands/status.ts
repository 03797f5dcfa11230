import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Logger } from "../log.js";
import { loadManifest } from "../manifest/load.js";
import { collectStatus } from "../status/collect.js";
import { formatStatus } from "../status/format-text.js";
import { STATUS_EXIT } from "../status/report.js";
import { DEFAULT_MANIFESTS, refusePositionals } from "./manifest-arguments.js";

export const statusHelp = `Usage: ageboot status [--manifest PATH] [--json]

Show the host's secrets without decrypting anything: the current generation
and when it was made, every secret in it (owner, group, mode, size), custom
paths and whether each is what ageboot put there, the kept generations, and,
with a manifest, whether each declared secret is installed as declared and
whether the host's keys open its file (header only). Any user may run it: it
shows what that user may see, and says what it could not check.

Options:
  --manifest PATH   compare with this manifest (default: ${DEFAULT_MANIFESTS.join(", then ")},
                    when one exists; otherwise /run/agenix and /run/agenix.d, nothing declared)
  --json            the report as JSON (schema version 1, docs/lifecycle.md)
  -h, --help        show this help

Exit status: ${STATUS_EXIT.AS_DECLARED} everything as declared; ${STATUS_EXIT.PROBLEMS} something declared is missing or differs;
${STATUS_EXIT.INCOMPLETE} nothing found wrong, but not everything could be checked as this user;
2 usage error; 4 invalid or unreadable manifest.`;

export async function runStatus(args: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { manifest: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${statusHelp}\n`);
    return 0;
  }
  refusePositionals("status", positionals);
  // As activate finds it; unlike activate, no manifest at the default places is no error.
  const path = values.manifest ?? DEFAULT_MANIFESTS.find((candidate) => existsSync(candidate));
  const manifest = path === undefined ? null : { path, manifest: await loadManifest(path) };
  const report = await collectStatus({ manifest, log });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return report.exitStatus;
}
