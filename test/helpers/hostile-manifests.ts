/**
 * The hostile manifest corpus (docs/reliability.md): each must be rejected as
 * MANIFEST (exit 4) before anything is touched. Shared by the unit tier, which
 * classifies every case in process, and the privileged tier, which runs the
 * resource attacks through the CLI.
 */
export const hostileManifests: ReadonlyArray<[string, () => string]> = [
  [
    "a YAML alias bomb",
    () =>
      `version: 1\na: &a ["x","x","x","x","x","x","x","x","x","x"]\n${Array.from(
        { length: 12 },
        (_, i) =>
          `l${i + 1}: &l${i + 1} [${Array(10)
            .fill(i === 0 ? "*a" : `*l${i}`)
            .join(",")}]`,
      ).join("\n")}\n`,
  ],
  ["duplicate keys in YAML", () => `version: 1\nsecrets:\n  a:\n    file: /x\n  a:\n    file: /y\n`],
  ["duplicate keys in JSON", () => `{"version": 1, "secrets": {}, "secrets": {}}`],
  ["a duplicate key deep inside JSON", () => `{"version": 1, "secrets": {"a": {"file": "/x", "file": "/y"}}}`],
  ["secrets that are a list", () => JSON.stringify({ version: 1, secrets: [] })],
  ["a version that is a string", () => JSON.stringify({ version: "1", secrets: {} })],
  ["a mode that is a number", () => JSON.stringify({ version: 1, secrets: { a: { file: "/x", mode: 400 } } })],
  ["a name with ..", () => JSON.stringify({ version: 1, secrets: { "../../etc/shadow": { file: "/x" } } })],
  ["a name with NUL", () => JSON.stringify({ version: 1, secrets: { "a\u0000b": { file: "/x" } } })],
  ["a name with a newline", () => JSON.stringify({ version: 1, secrets: { "a\nb": { file: "/x" } } })],
  ["an enormous name", () => JSON.stringify({ version: 1, secrets: { ["n".repeat(100_000)]: { file: "/x" } } })],
  ["an enormous path", () => JSON.stringify({ version: 1, secrets: { a: { file: `/${"p".repeat(1_000_000)}` } } })],
  ["JSON nested 100,000 deep", () => `{"version": 1, "secrets": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`],
  ["bytes that are not text", () => "\u0000\u0001\u0002\u00ff{"],
  ["an empty file", () => ""],
  ["an unknown top-level field", () => JSON.stringify({ version: 1, secrets: {}, restartUnits: [] })],
];
