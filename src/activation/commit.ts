import { AgebootError } from "../errors.js";
import { discardCustomPaths, type PreparedPath } from "./custom-paths.js";
import type { Generations } from "./generations.js";
import type { Outcome } from "./outcome.js";

/**
 * Step 7's commit: make the new generation current. Making the links can fail
 * like any file-system step (a full tmpfs on first boot: ENOSPC); the run then
 * ends as one whose secrets failed, never as an "internal error": every secret
 * the generation held is failed with the reason (it was staged, but users will
 * not see it), and nothing the run made stays behind: Generations.makeCurrent
 * has put the links back, the generation and the prepared custom paths are
 * discarded. Returns whether the generation is current.
 */
export function commitGeneration(generations: Generations, generation: number, outcomes: readonly Outcome[], prepared: readonly PreparedPath[]): boolean {
  try {
    generations.makeCurrent(generation);
    return true;
  } catch (error) {
    const why = error instanceof AgebootError ? error.message : String(error);
    for (const outcome of outcomes) if (outcome.isStaged) outcome.fail(new AgebootError("IO", `not installed: generation ${generation} could not be made current (${why})`));
    discardCustomPaths(prepared);
    generations.discardUnlessLinked(generation);
    return false;
  }
}
