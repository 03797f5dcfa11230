// Entry of the start-up snapshot (scripts/build.mjs runs it under
// `node --build-snapshot` and writes dist/ageboot.blob). Everything the bundle
// does when it loads (sshpk, pino, the built-in modules they require) happens
// here, once, at build time; a process started with --snapshot-blob begins at
// the function registered below with all of it already in its heap.
import { startupSnapshot } from "node:v8";
import { main } from "../main.js";
import { warmUp } from "./warm-up.js";

// The snapshot is taken once the event loop is empty, so after the warm-up.
const demoDir = process.env["AGEBOOT_SNAPSHOT_WARM_UP_DEMO"];
if (demoDir) void warmUp(demoDir).then(refuseWorkerThreads);
else refuseWorkerThreads();

/**
 * Fail the build if worker_threads was loaded: workers started from such a
 * snapshot die at once (src/snapshot/worker-threads-shim.cjs). moduleLoadList is
 * Node's own record of the built-in modules it has loaded.
 */
function refuseWorkerThreads(): void {
  const loaded = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? [];
  if (loaded.includes("NativeModule internal/worker")) {
    throw new Error("worker_threads was loaded while building the start-up snapshot; load it lazily (see src/snapshot/worker-threads-shim.cjs)");
  }
}

startupSnapshot.setDeserializeMainFunction(() => {
  const readyAtMs = performance.now();
  // node --snapshot-blob FILE -- ARGS...: argv is [node, ...ARGS].
  void main(process.argv.slice(1), { from: "the start-up snapshot", readyAtMs }).then((status) => {
    process.exitCode = status;
  });
});
