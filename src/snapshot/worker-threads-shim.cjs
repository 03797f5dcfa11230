// Stands in for "worker_threads" in the start-up snapshot's bundle, for pino
// and thread-stream, which require it when they load (scripts/build.mjs aliases
// it; ageboot's own code imports "node:worker_threads", which is not aliased).
//
// Why: Node.js 20 cannot snapshot worker_threads. Its internal/worker module
// makes a SharedArrayBuffer counter when it loads; in a process started from a
// snapshot that loaded it, every new Worker dies at once with "undefined is not
// an integer typed array" (Atomics.load in the worker's process.cwd). So the
// real module must first load at run time, when a worker is actually wanted.
//
// pino reads only isMainThread (for transports, which ageboot does not use):
// the snapshot's code only ever runs on the main thread. thread-stream (pino's
// transports) gets a Worker that loads the real module when constructed.
"use strict";

function realWorkerThreads() {
  return process.getBuiltinModule("node:worker_threads");
}

class Worker {
  constructor(...args) {
    const RealWorker = realWorkerThreads().Worker;
    // biome-ignore lint/correctness/noConstructorReturn: a stand-in that hands out the real Worker once it may load.
    return new RealWorker(...args);
  }
}

module.exports = {
  isMainThread: true,
  Worker,
  get parentPort() {
    return realWorkerThreads().parentPort;
  },
  get workerData() {
    return realWorkerThreads().workerData;
  },
};
