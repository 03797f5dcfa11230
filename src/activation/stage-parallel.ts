import { cpus } from "node:os";
import type { Worker } from "node:worker_threads";
import { bundleFile } from "../bundle-files.js";
import { mapWithLimit } from "../concurrency.js";
import { faultInjectionActive } from "../fault-injection.js";
import type { LoadedIdentity } from "../identities/types.js";
import { SourceSession, sharesFile } from "../sources/registry.js";
import type { StagingRequest } from "./stage-worker.js";
import { runStageJob, type StageJob, type StageResult } from "./stage-job.js";

/**
 * Below this many secrets a worker thread costs more than it saves: a fresh V8
 * isolate loading the bundle takes about 80 ms before its first secret, while
 * the main thread stages a 64 B secret in about 0.3 ms.
 */
const PARALLEL_THRESHOLD = 256;

/**
 * A second thread for staging, on two cores: decryption is CPU-bound (two
 * X25519 operations per file) and Node runs JavaScript on one thread. Started
 * at the beginning of the run, so that it loads while the main thread plans,
 * reads keys, locks and mounts; stageAll() then gives it its share.
 */
export class StagingThreads {
  private worker: Worker | null = null;
  private startError: string | null = null;
  /** How many threads the last stageAll() used (for the debug log). */
  threadsUsed = 1;

  constructor(secretCount: number) {
    if (secretCount < PARALLEL_THRESHOLD || cpus().length < 2 || faultInjectionActive()) return; // crash tests count steps in one thread
    try {
      // Loaded only when a second thread is wanted.
      const { Worker } = process.getBuiltinModule("node:worker_threads");
      // No execArgv of ours: options given to node are for the process, not for a worker.
      this.worker = new Worker(bundleFile("stage-worker.cjs"), { execArgv: [] });
      this.worker.unref();
      this.worker.once("error", (error) => (this.startError = error.message));
    } catch (error) {
      this.startError = String(error);
    }
  }

  /**
   * Stage every job; results keep the order of `jobs`. Secrets from sops files
   * all stay on this thread: a sops file is decrypted once per run for all
   * its secrets (src/sops/session.ts), which holds only if they share a thread,
   * and its plaintext never crosses to another.
   */
  async stageAll(jobs: readonly StageJob[], identities: readonly LoadedIdentity[], concurrency: number): Promise<StageResult[]> {
    const session = new SourceSession(identities);
    try {
      const sequential = (share: readonly StageJob[]) => mapWithLimit(share, concurrency, (job) => runStageJob(job, session));
      const movable = jobs.filter((job) => !sharesFile(job.source));
      if (this.worker === null || movable.length < PARALLEL_THRESHOLD) {
        this.close();
        this.threadsUsed = 1;
        return await sequential(jobs);
      }
      this.threadsUsed = 2;
      // The worker's share leaves the main thread the start-up time's worth of extra secrets.
      const split = movable.length - Math.floor((movable.length - PARALLEL_THRESHOLD) / 2);
      const theirJobs = new Set(movable.slice(split));
      const [mine, theirs] = await Promise.all([sequential(jobs.filter((job) => !theirJobs.has(job))), this.inWorker([...theirJobs], identities, concurrency)]);
      const byName = new Map([...mine, ...theirs].map((result) => [result.name, result]));
      return jobs.map((job) => byName.get(job.name)!);
    } finally {
      session.close();
    }
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
  }

  private inWorker(jobs: readonly StageJob[], identities: readonly LoadedIdentity[], concurrency: number): Promise<StageResult[]> {
    const worker = this.worker!;
    const failAll = (why: string): StageResult[] => jobs.map((job) => ({ name: job.name, ok: false, code: "IO", message: `staging thread failed: ${why}` }));
    if (this.startError !== null) return Promise.resolve(failAll(this.startError));
    return new Promise((resolve) => {
      let settled = false;
      const settle = (results: StageResult[]) => {
        if (!settled) resolve(results);
        settled = true;
        this.close();
      };
      worker.once("message", (results: StageResult[]) => settle(results));
      // A crashed worker fails its secrets (the failure policy then applies); it never hangs the run.
      worker.once("error", (error) => settle(failAll(error.message)));
      worker.once("exit", (code) => settle(failAll(`exited with code ${code} before reporting`)));
      const request: StagingRequest = { identities: identities.map(({ identity: _identity, ...about }) => about), jobs: [...jobs], concurrency };
      worker.postMessage(request);
    });
  }
}
