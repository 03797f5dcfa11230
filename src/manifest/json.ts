/**
 * JSON.parse, plus what it lacks for configuration: a duplicate key is an
 * error (JSON.parse silently keeps the last one). The NixOS module writes JSON,
 * so this path avoids loading the YAML parser at boot.
 */
export function parseJsonRejectingDuplicates(text: string): unknown {
  const value: unknown = JSON.parse(text); // syntax first: the scan below may assume valid JSON
  const objects: Array<Set<string> | null> = []; // null marks an array
  let expectingKey = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "{") {
      objects.push(new Set());
      expectingKey = true;
    } else if (char === "[") {
      objects.push(null);
      expectingKey = false;
    } else if (char === "}" || char === "]") {
      objects.pop();
      expectingKey = false;
    } else if (char === ",") {
      expectingKey = objects.at(-1) instanceof Set;
    } else if (char === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const keys = objects.at(-1);
      if (expectingKey && keys) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        if (keys.has(key)) throw new SyntaxError(`duplicate key ${JSON.stringify(key).slice(0, 80)}`);
        keys.add(key);
        expectingKey = false;
      }
      index = end;
    }
  }
  return value;
}
