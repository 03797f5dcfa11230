import { mkdirSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { compareWithCurrent, type ChangeReport, type InstalledSecret } from "./activation/changes.js";
import { commitCustomPath, discardCustomPath, prepareCustomPath, type PreparedPath } from "./activation/custom-paths.js";
import {
  currentGeneration,
  currentLinkGeneration,
  generationPath,
  listGenerations,
  pruneGenerations,
  removeLeftovers,
} from "./activation/generations.js";
import { acquireLock } from "./activation/lock.js";
import { ensureSecretsMount, setDirectoryAccess } from "./activation/mount.js";
import { SameContent } from "./activation/same-content.js";
import { planSecrets, type PlannedSecret, type SecretFailure } from "./activation/plan.js";
import { makeParentDirectories } from "./activation/stage.js";
import type { StageJob } from "./activation/stage-job.js";
import { StagingThreads } from "./activation/stage-parallel.js";
import { makeCurrent } from "./activation/swap.js";
import { openPlaintext } from "./age/decrypt.js";
import { mapWithLimit } from "./concurrency.js";
import { AgebootError, describeCause } from "./errors.js";
import { requireIdentities } from "./identities/require.js";
import type { LoadedIdentity } from "./identities/types.js";
import type { Logger } from "./log.js";
import type { Manifest } from "./manifest/types.js";
import { UserDatabase } from "./users.js";
import { mutated } from "./fault-injection.js";

export interface ActivateOptions {
  readonly log: Logger;
  /** Validate, decrypt and report, touching nothing. */
  readonly dryRun?: boolean;
  /** Development and tests only: allow a plain directory as the mount point. */
  readonly allowPlainDirectory?: boolean;
  readonly lockTimeoutSeconds?: number;
  /** How many secrets are decrypted at once. */
  readonly concurrency?: number;
  /** sd_notify STATUS= progress. */
  readonly status?: (text: string) => Promise<void>;
}

export interface ActivationResult {
  /** The generation users see after the run (null: none). */
  readonly generation: number | null;
  /** Whether this run made a new generation current. */
  readonly installed: boolean;
  readonly failures: readonly SecretFailure[];
  readonly changes: ChangeReport;
  readonly pruned: readonly number[];
  readonly durationMs: number;
}

const noChanges: ChangeReport = { added: [], changed: [], removed: [], unchanged: [] };

/**
 * The main job, top to bottom: plan -> identities -> lock and mount -> stage
 * (decrypt, own) -> custom paths -> swap -> prune -> report.
 *
 * Failure policy: when a generation is current, a new one in which any declared
 * secret failed is discarded and the current one stays, untouched. When none is
 * current (first run after boot), the secrets that did decrypt are installed so
 * that services whose secrets are fine can start. Either way every failure is
 * reported and the caller exits non-zero.
 */
export async function activate(manifest: Manifest, options: ActivateOptions): Promise<ActivationResult> {
  const started = performance.now();
  // A second staging thread for large sets starts now, loading while we plan.
  const threads = new StagingThreads(options.dryRun ? 0 : manifest.secrets.length);
  try {
    return await activateWith(threads, manifest, options, started);
  } finally {
    threads.close();
  }
}

async function activateWith(threads: StagingThreads, manifest: Manifest, options: ActivateOptions, started: number): Promise<ActivationResult> {
  const { log } = options;
  const status = options.status ?? (async () => {});
  const concurrency = options.concurrency ?? 8;
  const { secretsDir, secretsMountPoint: mountPoint } = manifest;
  // --log-level debug shows where the time goes, phase by phase.
  const phaseDone = (phase: string) => log.debug(`${phase} done at ${Math.round(performance.now() - started)} ms`);

  // Plan: files, owners, groups and custom paths, per secret.
  await status(`Planning ${manifest.secrets.length} secrets`);
  const users = UserDatabase.load();
  // Outside NixOS the keys group is rarely in /etc/group, and asking NSS means a
  // getent(1) child: let it run while we plan and read keys; the mount needs it.
  const keysGidLookup = users.group("keys");
  keysGidLookup.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
  const { planned, failures } = await planSecrets(manifest, users);
  phaseDone("plan");
  const failed = (name: string, error: unknown) => failures.push(failureOf(name, error));

  // Identities: unusable paths are warnings; none at all is fatal, before touching anything.
  const { identities } = await requireIdentities(manifest.identityPaths, log);
  phaseDone("identities");

  if (options.dryRun) return dryRun(manifest, planned, failures, identities, concurrency, started);

  const releaseLock = await acquireLock(mountPoint, options.lockTimeoutSeconds ?? 120);
  phaseDone("lock");
  try {
    const keysGid = await keysGidLookup;
    // Where generations live, and which one users see now.
    await ensureSecretsMount(mountPoint, { allowPlainDirectory: options.allowPlainDirectory ?? false, keysGid }, log);
    const existing = listGenerations(mountPoint);
    const current = currentGeneration(secretsDir, mountPoint, existing);
    const generation = (existing.at(-1) ?? 0) + 1;
    const linked = new Set([current, currentLinkGeneration(mountPoint, existing)].filter((n): n is number => n !== null));
    removeLeftovers(mountPoint, existing, current, linked);
    phaseDone("mount");

    // Stage: every secret decrypted into the new generation, owned and moded.
    await status(`Decrypting ${planned.length} secrets into generation ${generation}`);
    const generationDir = generationPath(mountPoint, generation);
    mkdirSync(generationDir, { mode: 0o751 });
    mutated("mkdir generation");
    setDirectoryAccess(generationDir, keysGid);
    const currentDir = current === null ? null : generationPath(mountPoint, current);
    const directories = new Set<string>();
    for (const secret of planned) makeParentDirectories(generationDir, secret.name, keysGid, directories);
    const jobs: StageJob[] = planned.map((secret) => ({
      name: secret.name,
      file: secret.file,
      target: `${generationDir}/${secret.name}`,
      ownership: { uid: secret.uid, gid: secret.gid, mode: secret.mode },
      currentFile: currentDir === null ? null : `${currentDir}/${secret.name}`,
    }));
    const installed: InstalledSecret[] = [];
    for (const [index, outcome] of (await threads.stageAll(jobs, identities, concurrency)).entries()) {
      const { uid, gid, mode } = jobs[index]!.ownership;
      if (outcome.ok) installed.push({ name: outcome.name, sameContent: outcome.sameContent, uid, gid, mode });
      else failures.push({ name: outcome.name, code: outcome.code, message: outcome.message });
    }
    phaseDone(`stage (${threads.threadsUsed} thread${threads.threadsUsed === 1 ? "" : "s"})`);

    // Custom paths, phase one: symlinks and copies under temporary names.
    const prepared: PreparedPath[] = [];
    if (failures.length === 0 || current === null) {
      const stagedNames = new Set(installed.map((secret) => secret.name));
      for (const secret of planned.filter((candidate) => candidate.hasCustomPath && stagedNames.has(candidate.name))) {
        try {
          prepared.push(await prepareCustomPath(secret, secretsDir, `${generationDir}/${secret.name}`, log));
        } catch (error) {
          failed(secret.name, error);
        }
      }
    }

    // The transaction does not commit: the current generation stays as it was.
    if (failures.length > 0 && current !== null) {
      for (const path of prepared) discardCustomPath(path);
      rmSync(generationDir, { recursive: true, force: true });
      mutated("discard failed generation");
      return result(current, false, failures, noChanges, [], started);
    }

    // Swap: one rename makes the new generation current; then custom paths follow.
    const changes = compareWithCurrent(currentDir, installed);
    phaseDone("compare");
    makeCurrent(secretsDir, mountPoint, generation);
    for (const path of prepared) {
      await commitCustomPath(path).catch((error: unknown) =>
        failed(path.secret, new AgebootError("IO", `path ${path.path}: cannot install (${describeCause(error)})`)),
      );
    }

    phaseDone("swap");
    const pruned = pruneGenerations(mountPoint, generation, manifest.keepGenerations);
    phaseDone("prune");
    return result(generation, true, failures, changes, pruned, started);
  } finally {
    releaseLock();
  }
}

/** Decrypt everything to a hash only, compare with what is current, write nothing. */
async function dryRun(
  manifest: Manifest,
  planned: readonly PlannedSecret[],
  failures: SecretFailure[],
  identities: readonly LoadedIdentity[],
  concurrency: number,
  started: number,
): Promise<ActivationResult> {
  const { secretsDir, secretsMountPoint: mountPoint } = manifest;
  const existing = listGenerations(mountPoint);
  const current = currentGeneration(secretsDir, mountPoint, existing);
  const currentDir = current === null ? null : generationPath(mountPoint, current);
  const decrypted = await mapWithLimit(planned, concurrency, async (secret): Promise<InstalledSecret | null> => {
    try {
      const plaintext = await openPlaintext(secret.file, identities);
      const sameContent = new SameContent(currentDir === null ? null : `${currentDir}/${secret.name}`, plaintext.size);
      await plaintext.pipeTo((chunk) => sameContent.update(chunk));
      return { name: secret.name, sameContent: sameContent.result(), uid: secret.uid, gid: secret.gid, mode: secret.mode };
    } catch (error) {
      failures.push(failureOf(secret.name, error));
      return null;
    }
  });
  const installed = decrypted.filter((secret): secret is InstalledSecret => secret !== null);
  const changes = compareWithCurrent(currentDir, installed);
  return result(current, false, failures, changes, [], started);
}

function failureOf(name: string, error: unknown): SecretFailure {
  if (error instanceof AgebootError) return { name, code: error.code, message: error.message };
  return { name, code: "IO", message: describeCause(error) };
}

function result(
  generation: number | null,
  installed: boolean,
  failures: readonly SecretFailure[],
  changes: ChangeReport,
  pruned: readonly number[],
  started: number,
): ActivationResult {
  const sorted = [...failures].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { generation, installed, failures: sorted, changes, pruned, durationMs: Math.round(performance.now() - started) };
}
