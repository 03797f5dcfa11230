/** A generation directory's name: its number, without leading zeros (and no larger than generationNumber allows). */
export const GENERATION_NAME = /^[1-9][0-9]{0,15}$/;

/**
 * The generation a name stands for, or null when it is not one: only safe
 * integers are generations. A 16-digit name can exceed 2^53, where Number()
 * rounds (9007199254740993 reads as ...992) and `next` would no longer be
 * above every generation present (or would be 17 digits, unrecognised on the
 * next run, which would then delete the current generation as a leftover).
 */
export function generationNumber(name: string): number | null {
  if (!GENERATION_NAME.test(name)) return null;
  const number = Number(name);
  return Number.isSafeInteger(number) ? number : null;
}
