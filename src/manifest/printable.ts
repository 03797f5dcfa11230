/** Escape control, invisible and bidirectional characters and cut long values, so an error message stays one readable line that says what it is. */
export function printable(text: string): string {
  const escaped = JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (character) => `\\u${character.codePointAt(0)!.toString(16).padStart(4, "0")}`);
  return escaped.length > 120 ? `${escaped.slice(0, 117)}...` : escaped;
}
