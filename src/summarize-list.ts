/**
 * The first `shown` items, then "... and N more": a list that a crafted file
 * can make long (a header's recipients) stays a readable line in a message.
 */
export function summarizeList(items: readonly string[], shown: number): string {
  if (items.length <= shown) return items.join(", ");
  return `${items.slice(0, shown).join(", ")}, ... and ${items.length - shown} more`;
}
