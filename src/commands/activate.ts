import { parseArgs } from "node:util";
import { activate } from "../activate.js";
import { userHost } from "../activation/host-context.js";
import { runExitStatus } from "../activation/failure-policy.js";
import { headline, summarize, type ActivationResult } from "../activation/report.js";
import { UNITS_VIA, type UnitsVia } from "../activation/request-units.js";
import { AgebootError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import type { Logger } from "../log.js";
import { loadManifest } from "../manifest/load.js";
import { statusNotifier } from "../notify.js";
import { readUserEnvironment } from "../user/environment.js";
import { requireUserRuntimeDirectory } from "../user/runtime-directory.js";
import { DEFAULT_MANIFESTS, defaultManifestPath, lockTimeoutSeconds, refusePositionals } from "./manifest-arguments.js";

/** A user's manifest, as the help says it (and as ageboot-user.service reads it). */
const USER_MANIFESTS = ["$XDG_CONFIG_HOME/ageboot/manifest.json", "manifest.yaml"];
function userManifests(configHome: string): string[] {
  return [`${configHome}/ageboot/manifest.json`, `${configHome}/ageboot/manifest.yaml`];
}

export const activateHelp = `Usage: ageboot activate [--manifest PATH] [--dry-run] [OPTIONS]

Decrypt every secret the manifest declares into a new generation on the
memory-backed mount, set owner, group and mode, and make it current with one
atomic symlink swap (secretsDir -> secretsMountPoint/N). Keeps keepGenerations
previous generations (0: only the current one; "all": never prunes).

Templates (manifest "templates") are rendered into the same generation, at
secretsDir/rendered/NAME, from the secrets they name; a template whose secret
failed fails too.

If any secret or template fails, the run exits 1 and names each failure. When a generation
is already current it stays current, untouched. On the first run after boot
(nothing current yet) the secrets that did decrypt are installed.
A custom path that cannot be installed does not hold the others back: its
secret is installed in the new generation, the path keeps what it held, and
the run names it and exits 7 (1 if a secret failed too).

With --user, a user's own secrets, without root (agenix's home-manager module
in ageboot's hands; docs/home-manager.md): nothing is mounted, the secrets and
their generations go into $XDG_RUNTIME_DIR (by default $XDG_RUNTIME_DIR/agenix
-> $XDG_RUNTIME_DIR/agenix.d/N), which must be a tmpfs or ramfs that is yours
and writable by you alone; identities default to ~/.ssh/id_ed25519 and
~/.ssh/id_rsa; every secret is owned by you. A leading $XDG_RUNTIME_DIR, $HOME
or ~ in the manifest's paths is expanded.

Units named by restartUnits and reloadUnits of every secret added, changed
(content, owner, group or mode) or removed are restarted or reloaded once,
after the swap, without waiting for them; none on the first run after boot.

Options:
  --manifest PATH              JSON or YAML manifest (default: ${DEFAULT_MANIFESTS.join(", then ")};
                               with --user: ${USER_MANIFESTS.join(", then ")})
  --user                       a user's own secrets (see above)
  --dry-run                    validate, decrypt and report what would change; touch nothing
  --lock-timeout SECONDS       wait this long for another run to finish (default 120)
  --units-via HOW              how restarts and reloads are asked for: systemctl
                               (default: try-restart / try-reload-or-restart,
                               --no-block), systemctl-user (the same with --user:
                               the default with --user), nixos-activation (the lists
                               switch-to-configuration reads, under NIXOS_ACTION),
                               or none (only reported)
  --defer-unknown-owners       a secret whose owner or group does not exist yet is
                               installed root:root 0400 instead of failing; run
                               "ageboot chown" once they exist (NixOS activation,
                               which creates users after decrypting)
  --insecure-plain-directory   DEVELOPMENT ONLY: allow a mount point that is a plain
                               directory instead of ramfs/tmpfs (plaintext on disk!)
  -h, --help                   show this help`;

export async function runActivate(args: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      manifest: { type: "string" },
      "dry-run": { type: "boolean" },
      "lock-timeout": { type: "string" },
      "insecure-plain-directory": { type: "boolean" },
      "defer-unknown-owners": { type: "boolean" },
      "units-via": { type: "string" },
      user: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${activateHelp}\n`);
    return EXIT.OK;
  }
  refusePositionals("activate", positionals);
  const lockTimeout = lockTimeoutSeconds(values["lock-timeout"]);
  const user = values.user ? readUserEnvironment() : undefined;
  if (user !== undefined) {
    for (const option of ["insecure-plain-directory", "defer-unknown-owners"] as const) {
      if (values[option]) throw new AgebootError("USAGE", `--${option} does not go with --user`);
    }
    // Before anything is read or written: step 4 checks again, but the lock file comes first.
    requireUserRuntimeDirectory(user);
  }
  const unitsVia = values["units-via"] ?? (user === undefined ? "systemctl" : "systemctl-user");
  if (!UNITS_VIA.includes(unitsVia as UnitsVia)) throw new AgebootError("USAGE", `--units-via takes one of ${UNITS_VIA.join(", ")}`);
  if (user !== undefined && unitsVia !== "systemctl-user" && unitsVia !== "none") {
    throw new AgebootError("USAGE", "with --user, units are asked of your own systemd manager: --units-via systemctl-user (the default) or none");
  }
  const manifestPath = values.manifest ?? (user === undefined ? defaultManifestPath() : defaultManifestPath(userManifests(user.configHome)));

  const manifest = await loadManifest(manifestPath, user);
  const dryRun = values["dry-run"] ?? false;
  const status = statusNotifier(log);
  const result = await activate(manifest, {
    log,
    dryRun,
    allowPlainDirectory: values["insecure-plain-directory"] ?? false,
    lockTimeoutSeconds: lockTimeout,
    deferUnknownOwners: values["defer-unknown-owners"] ?? false,
    unitsVia: unitsVia as UnitsVia,
    status,
    ...(user === undefined ? {} : { host: userHost(user) }),
  });
  const summary = reportResult(result, log);
  await status(summary);
  return runExitStatus(result.outcomes);
}

const MAX_NAMES_IN_SUMMARY = 20;

function abbreviate(names: readonly string[]): string[] {
  if (names.length <= MAX_NAMES_IN_SUMMARY) return [...names];
  return [...names.slice(0, MAX_NAMES_IN_SUMMARY), `... ${names.length - MAX_NAMES_IN_SUMMARY} more`];
}

/** One error line per failed secret or template, then one summary line; returns the summary. */
function reportResult(result: ActivationResult, log: Logger): string {
  const summary = summarize(result);
  const { templates } = summary;
  for (const failure of [...summary.failures, ...templates.failures]) log.error({ code: failure.code }, `${failure.kind} ${failure.name}: ${failure.message}`);
  for (const failure of [...summary.pathFailures, ...templates.pathFailures]) {
    log.error({ code: failure.code }, `${failure.kind} ${failure.name}: ${failure.message}; the ${failure.kind} itself is installed, its custom path keeps what it held`);
  }
  for (const outcome of result.outcomes) {
    if (outcome.deferredBecause !== null && outcome.failed === null) {
      log.info(`${outcome.kind} ${outcome.name}: ${outcome.deferredBecause} yet; installed as root:root 0400, deferred until ageboot chown applies its owner, group and mode`);
    }
  }
  reportUnits(result, log);
  const line = headline(result, summary);
  const { added, changed, removed, deferred } = summary;
  const lists = {
    added,
    changed,
    removed,
    deferred,
    failed: summary.failures.map((failure) => failure.name),
    pathFailed: summary.pathFailures.map((failure) => failure.name),
    templatesAdded: templates.added,
    templatesChanged: templates.changed,
    templatesRemoved: templates.removed,
    templatesDeferred: templates.deferred,
    templatesFailed: templates.failures.map((failure) => failure.name),
    templatesPathFailed: templates.pathFailures.map((failure) => failure.name),
    pruned: result.pruned.map(String),
  };
  // Empty lists say nothing the counts did not; long ones are cut so the line stays a line.
  const fields = {
    generation: result.generation,
    ...Object.fromEntries(
      Object.entries(lists)
        .filter(([, list]) => list.length > 0)
        .map(([key, list]) => [key, abbreviate(list)]),
    ),
    durationMs: result.durationMs,
  };
  const failed = summary.failures.length + summary.pathFailures.length + templates.failures.length + templates.pathFailures.length > 0;
  if (failed) log.error(fields, line);
  else log.info(fields, line);
  return line;
}

/** One line each for the units restarted and reloaded, or that a dry run would restart and reload. */
function reportUnits({ units, unitsAskedThrough, dryRun }: ActivationResult, log: Logger): void {
  for (const [verb, list] of [
    ["restart", units.restart],
    ["reload", units.reload],
  ] as const) {
    if (list.length === 0) continue;
    const names = abbreviate(list).join(", ");
    if (dryRun) log.info({ [verb]: list }, `would ${verb} ${names}`);
    else if (unitsAskedThrough !== null) log.info({ [verb]: list }, `${verb} requested through ${unitsAskedThrough}: ${names}`);
    else log.info({ [verb]: list }, `not asked to ${verb} (--units-via none, or see the warnings above): ${names}`);
  }
}
