import { writeFileSync } from "node:fs";

/**
 * Whether this build has the hooks at all: scripts/build.mjs defines it false
 * for the bundle that ships (dist/), and esbuild then drops every line below
 * that reads the variables, so no environment can make a shipped ageboot kill
 * itself or write a step list as root (issue 22, item 4); true for the test
 * build (dist-test/) that the crash tests run. Undefined when the sources run
 * unbundled (vitest's in-process tests): compiled in.
 */
declare const AGEBOOT_FAULT_INJECTION: boolean | undefined;

/**
 * Crash-consistency tests kill ageboot at every step that changes the file
 * system. Each such step calls crashPoint(name) right after it; with AGEBOOT_TEST_KILL_AFTER_STEP=k
 * the process SIGKILLs itself right after its k-th step, and with
 * AGEBOOT_TEST_COUNT_STEPS=FILE it writes how many steps it took (and their
 * names) there at exit. Without those variables this does nothing but count.
 *
 * The variables are read when a run starts (configureFaultInjection, from
 * main), not when this module loads: the build's warm-up (src/code-cache/)
 * loads and runs the bundle in its own environment.
 */
let killAfter = 0;
let countFile: string | undefined;
let steps: string[] = [];

export function configureFaultInjection(env: NodeJS.ProcessEnv = process.env): void {
  // Written out in each function: esbuild folds the constant here, not through a variable.
  if (typeof AGEBOOT_FAULT_INJECTION !== "undefined" && !AGEBOOT_FAULT_INJECTION) return;
  killAfter = Number(env["AGEBOOT_TEST_KILL_AFTER_STEP"] ?? 0);
  countFile = env["AGEBOOT_TEST_COUNT_STEPS"];
  steps = [];
  if (countFile) {
    const file = countFile;
    process.once("exit", () => writeFileSync(file, steps.join("\n") + (steps.length ? "\n" : "")));
  }
}

/** Whether a crash test is counting or killing steps (they must all happen in one thread then). */
export function faultInjectionActive(): boolean {
  return killAfter !== 0 || countFile !== undefined;
}

/** A step that changed the file system just ended: where a crash test may kill this process. */
export function crashPoint(step: string): void {
  // Written out in each function: esbuild folds the constant here, not through a variable.
  if (typeof AGEBOOT_FAULT_INJECTION !== "undefined" && !AGEBOOT_FAULT_INJECTION) return;
  if (killAfter === 0 && !countFile) return;
  steps.push(step);
  if (steps.length === killAfter) process.kill(process.pid, "SIGKILL");
}
