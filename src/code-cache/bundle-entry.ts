// Entry of the CommonJS bundle (dist/cli.cjs). It runs nothing when it loads:
// dist/start.cjs (src/code-cache/start.ts) compiles it with its V8 code cache
// and calls run(); the build (src/code-cache/make.ts) calls warmUp() instead,
// then saves the code cache.
import { main } from "../main.js";

export { warmUp } from "./warm-up.js";

/** Run the command line `args`; the exit status goes to process.exitCode. */
export function run(args: string[], from: string, readyAtMs: number): void {
  void main(args, { from, readyAtMs }).then((status) => {
    process.exitCode = status;
  });
}
