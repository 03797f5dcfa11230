import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { mapWithLimit } from "../concurrency.js";
import { faultInjectionActive } from "../fault-injection.js";
import type { LoadedIdentity } from "../identities/types.js";
import type { StagingRequest } from "./stage-worker.js";
import { runStageJob, type StageJob, type StageOutcome } from "./stage-job.js";

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

  constructor(secretCount: number) {
    if (secretCount < PARALLEL_THRESHOLD || cpus().length < 2 || faultInjectionActive()) return; // crash tests count steps in one thread
    try {
      this.worker = new Worker(new URL("./stage-worker.js", import.meta.url));
      this.worker.unref();
      this.worker.once("error", (error) => (this.startError = error.message));
    } catch (error) {
      this.startError = String(error);
    }
  }

  /** Stage every job; outcomes keep the order of `jobs`. */
  async stageAll(jobs: readonly StageJob[], identities: readonly LoadedIdentity[], concurrency: number): Promise<StageOutcome[]> {
    const sequential = (share: readonly StageJob[]) => mapWithLimit(share, concurrency, (job) => runStageJob(job, identities));
    if (this.worker === null || jobs.length < PARALLEL_THRESHOLD) {
      this.close();
      return sequential(jobs);
    }
    // The worker's share leaves the main thread the start-up time's worth of extra secrets.
    const split = jobs.length - Math.floor((jobs.length - PARALLEL_THRESHOLD) / 2);
    const [mine, theirs] = await Promise.all([sequential(jobs.slice(0, split)), this.inWorker(jobs.slice(split), identities, concurrency)]);
    return [...mine, ...theirs];
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
  }

  private inWorker(jobs: readonly StageJob[], identities: readonly LoadedIdentity[], concurrency: number): Promise<StageOutcome[]> {
    const worker = this.worker!;
    const failAll = (why: string): StageOutcome[] => jobs.map((job) => ({ name: job.name, ok: false, code: "IO", message: `staging thread failed: ${why}` }));
    if (this.startError !== null) return Promise.resolve(failAll(this.startError));
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcomes: StageOutcome[]) => {
        if (!settled) resolve(outcomes);
        settled = true;
        this.close();
      };
      worker.once("message", (outcomes: StageOutcome[]) => settle(outcomes));
      // A crashed worker fails its secrets (the failure policy then applies); it never hangs the run.
      worker.once("error", (error) => settle(failAll(error.message)));
      worker.once("exit", (code) => settle(failAll(`exited with code ${code} before reporting`)));
      const request: StagingRequest = { identities: identities.map(({ identity: _identity, ...about }) => about), jobs: [...jobs], concurrency };
      worker.postMessage(request);
    });
  }
}
