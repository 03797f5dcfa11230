import { writeFileSync } from "node:fs";

/**
 * Crash-consistency tests kill ageboot at every step that changes the file
 * system. Each such step calls mutated(); with AGEBOOT_TEST_KILL_AFTER_STEP=k
 * the process SIGKILLs itself right after its k-th step, and with
 * AGEBOOT_TEST_COUNT_STEPS=FILE it writes how many steps it took (and their
 * names) there at exit. Without those variables this does nothing but count.
 */
const killAfter = Number(process.env["AGEBOOT_TEST_KILL_AFTER_STEP"] ?? 0);
const countFile = process.env["AGEBOOT_TEST_COUNT_STEPS"];
const steps: string[] = [];

if (countFile) process.on("exit", () => writeFileSync(countFile, steps.join("\n") + (steps.length ? "\n" : "")));

/** Whether a crash test is counting or killing steps (they must all happen in one thread then). */
export function faultInjectionActive(): boolean {
  return killAfter !== 0 || countFile !== undefined;
}

export function mutated(step: string): void {
  if (killAfter === 0 && !countFile) return;
  steps.push(step);
  if (steps.length === killAfter) process.kill(process.pid, "SIGKILL");
}
