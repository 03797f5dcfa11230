import { performance } from "node:perf_hooks";
import { classifyChanges } from "./activation/changes.js";
import { commitGeneration } from "./activation/commit.js";
import { commitCustomPaths, discardCustomPaths } from "./activation/custom-paths.js";
import { prepareCustomPathsStep } from "./activation/custom-paths-step.js";
import { readGenerationRecord } from "./activation/generation-record.js";
import { newGenerationCommits } from "./activation/failure-policy.js";
import { explainFullMount, mountWasFull } from "./activation/full-mount.js";
import { Generations } from "./activation/generations.js";
import { Immutability } from "./activation/immutable.js";
import { removeStalePaths } from "./activation/installed-paths.js";
import { acquireLock, type LockAcquirer } from "./activation/lock.js";
import { type HostContext, SYSTEM_HOST } from "./activation/host-context.js";
import { mountedFilesystemAt, unmountSecretsMount } from "./activation/mount.js";
import { planSecrets, planTemplates } from "./activation/plan.js";
import { renderTemplates } from "./activation/render-templates.js";
import { handOverHeldItems, itemsHeldForCopies, secretsHeldForTemplates } from "./activation/hand-over.js";
import type { ActivationResult } from "./activation/report.js";
import { requestUnits, type UnitsVia } from "./activation/request-units.js";
import { stageSecrets } from "./activation/stage.js";
import { StagingThreads } from "./activation/stage-parallel.js";
import { NO_UNITS, type UnitRequests, unitsToNotify } from "./activation/units-step.js";
import { requireIdentities } from "./identities/require.js";
import type { Logger } from "./log.js";
import type { Manifest } from "./manifest/types.js";
import { UserDatabase } from "./users.js";

export type { ActivationResult } from "./activation/report.js";

export interface ActivateOptions {
  readonly log: Logger;
  /** Run every step that reads and decrypts; write nothing (the stage step only compares). */
  readonly dryRun?: boolean;
  /** Development and tests only: allow a plain directory as the mount point. */
  readonly allowPlainDirectory?: boolean;
  /**
   * Before the users exist (NixOS activation, ahead of its \`users\` step): a secret
   * whose owner or group does not exist yet is installed root:root 0400, not
   * failed, and \`ageboot chown\` applies its ownership afterwards.
   */
  readonly deferUnknownOwners?: boolean;
  readonly lockTimeoutSeconds?: number;
  /**
   * How step 3 serialises runs: flock(2) through util-linux flock(1) by default. The unit
   * tier, which runs no external tool, passes a lock held in its own process.
   */
  readonly acquireLock?: LockAcquirer;
  /** How many secrets are decrypted at once. */
  readonly concurrency?: number;
  /** How units whose secrets changed are restarted or reloaded (./activation/request-units.ts); default systemctl. */
  readonly unitsVia?: UnitsVia;
  /** sd_notify STATUS= progress. */
  readonly status?: (text: string) => Promise<void>;
  /** Whose secrets: the host's (default) or one user's (activate --user; ./activation/host-context.ts). */
  readonly host?: HostContext;
}

/**
 * The activation, as numbered steps (each marked below):
 *
 *   1. plan         one outcome per declared secret and template: file, owner, group, placeholders checked
 *   2. identities   the host's keys; none usable stops the run before anything is touched
 *   3. lock         runs are serialised
 *   4. mount        the memory-backed mount (--user: the user's tmpfs, checked); generations
 *                   read, leftovers of crashed runs removed
 *   5. stage        every planned secret decrypted through its source into a new generation
 *   5b. render      every planned template rendered from the secrets staged in 5, as rendered/<name>;
 *                   the secrets templates name stay root's until then, and go to their owners after
 *   6. custom paths symlinks and copies prepared under temporary names; the record of them;
 *                   what is copied stays root's until copied, and goes to its owner after; then
 *                   every file made immutable and the generation (0700 so far) opened, 0751
 *   7. commit       or discard, by the failure policy (./activation/failure-policy.ts); a
 *                   generation whose links cannot be made fails every secret it held;
 *                   custom paths of removed secrets removed
 *   8. units        restart or reload, without waiting, the units of what changed;
 *                   none on the first run after boot (nothing had read a secret yet)
 *   9. prune        keep `keepGenerations` previous generations
 *  10. report       the outcomes, for the summary, sd_notify and the exit status
 *
 * A dry run takes the same steps without the lock and the mount, stages into a
 * sink that only compares, and stops after step 5b with the report, which names
 * the units step 8 would restart and reload.
 */
export async function activate(manifest: Manifest, options: ActivateOptions): Promise<ActivationResult> {
  const started = performance.now();
  const { log } = options;
  const dryRun = options.dryRun ?? false;
  const status = options.status ?? (async () => {});
  const concurrency = options.concurrency ?? 8;
  const host = options.host ?? SYSTEM_HOST;
  const { secretsDir, secretsMountPoint: mountPoint } = manifest;
  // --log-level debug shows where the time goes, step by step.
  const stepDone = (step: string) => log.debug(`${step} done at ${Math.round(performance.now() - started)} ms`);
  // A second staging thread for large sets starts now, loading while we plan.
  const threads = new StagingThreads(dryRun ? 0 : manifest.secrets.length);
  let releaseLock = () => {};
  // A ramfs this run mounted is unmounted again unless a generation on it ends up current.
  let mountedHere = false;
  let committed = false;
  let generationsRead: Generations | null = null;
  try {
    // 1. Plan.
    await status(`Planning ${manifest.secrets.length} secrets`);
    const users = UserDatabase.load();
    // Outside NixOS the keys group is rarely in /etc/group, and asking NSS means a
    // getent(1) child: let it run while we plan and read keys; the mount needs it.
    const keysGidLookup = host.directoryGroup(users);
    keysGidLookup.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    const planning = { deferUnknownOwners: options.deferUnknownOwners ?? false, ownershipProblem: host.ownershipProblem };
    const secretOutcomes = await planSecrets(manifest, users, planning);
    const templateOutcomes = await planTemplates(manifest, users, planning);
    // Every declared item, secrets then templates: what every step after 5b and the report read.
    const outcomes = [...secretOutcomes, ...templateOutcomes];
    const finish = (
      fields: Omit<ActivationResult, "dryRun" | "outcomes" | "durationMs" | "units" | "unitsAskedThrough">,
      units: UnitRequests = NO_UNITS,
      unitsAskedThrough: string | null = null,
    ): ActivationResult => ({
      ...fields,
      dryRun,
      outcomes,
      units,
      unitsAskedThrough,
      durationMs: Math.round(performance.now() - started),
    });
    stepDone("1. plan");

    // 2. Identities: unusable paths are warnings; none at all is fatal, before touching anything.
    const { identities } = await requireIdentities(manifest.identityPaths, log);
    stepDone("2. identities");

    // 3. Lock (a dry run writes nothing, so it neither locks nor mounts).
    if (!dryRun) releaseLock = await (options.acquireLock ?? acquireLock)(mountPoint, options.lockTimeoutSeconds ?? 120);
    stepDone("3. lock");

    // 4. Mount, and read which generations exist and which one users see.
    const keysGid = await keysGidLookup;
    if (!dryRun) ({ mountedHere } = await host.prepareMount(mountPoint, { allowPlainDirectory: options.allowPlainDirectory ?? false, keysGid, secretsDir }, log));
    // Every secret file is made immutable before its owner can reach it (./activation/immutable.ts).
    const immutability = dryRun ? Immutability.none("dry run") : Immutability.forMount(mountedFilesystemAt(mountPoint), process.geteuid?.() === 0);
    const generations = Generations.read(mountPoint, secretsDir, immutability, log);
    generationsRead = generations;
    if (!dryRun) generations.removeLeftovers();
    // The current generation is never left closed or with mutable files, even if this run makes no new one (a killed chown).
    if (!dryRun) generations.resealCurrentIfClosed(keysGid, log);
    stepDone("4. mount");

    // 5. Stage: decrypt, own and mode every secret in a new generation (a dry run only compares).
    // A secret a template names stays ours (root's), 0400, until 5b has rendered from it: its owner could rewrite a file they own.
    // So does an item with a copy (symlink: false) until step 6 has copied it: its owner could grow it.
    const heldForTemplates = secretsHeldForTemplates(templateOutcomes);
    const heldForCopies = itemsHeldForCopies(outcomes, secretsDir);
    const generation = generations.next;
    await status(dryRun ? `Decrypting ${secretOutcomes.length} secrets (dry run)` : `Decrypting ${secretOutcomes.length} secrets into generation ${generation}`);
    const generationDir = dryRun ? null : generations.create(generation);
    const target = generationDir === null ? null : { directory: generationDir, keysGid };
    await stageSecrets(secretOutcomes, target, generations.currentPath, identities, threads, concurrency, new Set([...heldForTemplates, ...heldForCopies]));
    stepDone(`5. stage (${threads.threadsUsed} thread${threads.threadsUsed === 1 ? "" : "s"})`);

    // 5b. Render templates from the secrets just staged (a dry run decrypts them again, in memory, and only compares).
    await renderTemplates(templateOutcomes, secretOutcomes, target, generations.currentPath, identities, heldForCopies);
    const heldForTemplatesOnly = new Set([...heldForTemplates].filter((name) => !heldForCopies.has(name)));
    if (generationDir !== null) handOverHeldItems(generationDir, secretOutcomes, templateOutcomes, heldForTemplatesOnly);
    const removed = classifyChanges(outcomes, generations.currentPath);
    // A full mount (a secret's owner may have grown their file) is explained, naming its largest files.
    if (generationDir !== null && mountWasFull(outcomes)) log.warn(explainFullMount(mountPoint));
    stepDone("5b. render templates");
    // The current generation's record (custom paths, units), read once and before pruning can remove it.
    const previousRecord = readGenerationRecord(mountPoint, generations.current, log);
    // What step 8 will ask for.
    const units = generations.current === null ? NO_UNITS : unitsToNotify(outcomes, removed, previousRecord.units);
    if (generationDir === null) {
      const asked = await requestUnits(units, options.unitsVia ?? "systemctl", true, log);
      return finish({ generation: generations.current, installed: false, removed, pruned: [] }, units, asked);
    }

    // 6. Custom paths, under temporary names, and their record; not worth preparing for a generation that will not commit.
    const commits = newGenerationCommits(outcomes, generations.current);
    const { prepared, stale } = commits
      ? await prepareCustomPathsStep(outcomes, manifest.secrets, previousRecord.paths, generations, generation, manifest, log)
      : { prepared: [], stale: [] };
    if (commits) {
      handOverHeldItems(generationDir, outcomes, templateOutcomes, heldForCopies);
      // Its files immutable, then the generation (0700 until now, so no owner could reach a file before) opened, 0751.
      generations.seal(generation, keysGid, log);
    }
    stepDone("6. custom paths");

    // 7. Commit (one rename makes the new generation current; custom paths follow) or discard.
    // (A hand-over that failed just now fails its item, and may stop the commit.)
    if (!commits || !newGenerationCommits(outcomes, generations.current)) {
      discardCustomPaths(prepared);
      generations.discard(generation);
      return finish({ generation: generations.current, installed: false, removed, pruned: [] });
    }
    if (!commitGeneration(generations, generation, outcomes, prepared)) {
      return finish({ generation: generations.current, installed: false, removed, pruned: [] });
    }
    committed = true;
    await commitCustomPaths(prepared);
    // Custom paths of secrets the manifest no longer declares, if still as ageboot left them.
    removeStalePaths(stale, log);
    stepDone("7. commit");

    // 8. Units: restarts and reloads queued, not waited for (the run may be part of the transaction they join).
    const unitsAskedThrough = await requestUnits(units, options.unitsVia ?? "systemctl", false, log);
    stepDone("8. units");

    // 9. Prune.
    const pruned = generations.prune(generation, manifest.keepGenerations);
    stepDone("9. prune");

    // 10. Report: the caller reads the outcomes (src/activation/report.ts).
    return finish({ generation, installed: true, removed, pruned }, units, unitsAskedThrough);
  } finally {
    if (mountedHere && !committed && (generationsRead?.current ?? null) === null) await unmountSecretsMount(mountPoint, log);
    releaseLock();
    threads.close();
  }
}
