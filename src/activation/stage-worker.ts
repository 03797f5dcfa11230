// Worker thread entry (bundled as dist/stage-worker.cjs): waits for its share
// of the secrets, stages them with identities rebuilt from their recipes, and
// posts the results back. Plaintext never crosses the thread boundary: each
// thread writes its own files.
import { parentPort } from "node:worker_threads";
import { mapWithLimit } from "../concurrency.js";
import { identityFromRecipe } from "../identities/recipes.js";
import type { LoadedIdentity } from "../identities/types.js";
import { SourceSession } from "../sources/registry.js";
import { runStageJob, type StageJob } from "./stage-job.js";

export interface StagingRequest {
  identities: Array<Omit<LoadedIdentity, "identity">>;
  jobs: StageJob[];
  concurrency: number;
}

parentPort?.once("message", async (request: StagingRequest) => {
  const identities: LoadedIdentity[] = request.identities.map((about) => ({ ...about, identity: identityFromRecipe(about.recipe) }));
  const session = new SourceSession(identities);
  try {
    parentPort?.postMessage(await mapWithLimit(request.jobs, request.concurrency, (job) => runStageJob(job, session)));
  } finally {
    session.close();
  }
});
