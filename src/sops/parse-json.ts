import { AgebootError } from "../errors.js";
import { goFloatText } from "./scalars.js";
import { TreeBudget } from "./limits.js";
import { NULL, scalar, type SopsComment, type SopsList, type SopsMap, type SopsMapEntry, type SopsValue } from "./tree.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Parse the JSON store (stores/json/store.go) as sops' token-stream decoder
 * does: key order kept, duplicate keys kept (JSON.parse would merge them and
 * move integer-like keys first, changing the MAC), the top level must be an
 * object, an integer that fits int64 is an int and every other number a
 * float64 (sops 3.13.2; older files only differ below 2^53, where the MAC
 * bytes are the same). Iterative over the input, recursive only to the
 * bounded depth.
 */
export function parseJsonDocument(text: string): SopsMap {
  const parser = new JsonParser(text);
  parser.skipSpace();
  if (parser.peek() !== "{") throw new AgebootError("MALFORMED", "not a sops JSON file: the top level must be an object ('{')");
  const map = parser.value(0);
  parser.skipSpace();
  if (!parser.atEnd()) throw parser.fail("unexpected text after the top-level object");
  return map as SopsMap;
}

class JsonParser {
  private at = 0;
  private readonly budget = new TreeBudget();

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.at >= this.text.length;
  }

  peek(): string {
    return this.text[this.at] ?? "";
  }

  fail(why: string): AgebootError {
    // Counted, not split: splitting 16 MiB of line breaks made 16 M strings (255 MiB) for one message.
    let line = 1;
    for (let at = this.text.indexOf("\n"); at >= 0 && at < this.at; at = this.text.indexOf("\n", at + 1)) line++;
    return new AgebootError("MALFORMED", `not valid JSON (line ${line}): ${why}`);
  }

  skipSpace(): void {
    let code = this.text.charCodeAt(this.at);
    while (code === 32 || code === 9 || code === 10 || code === 13) code = this.text.charCodeAt(++this.at);
  }

  value(depth: number): SopsValue {
    this.budget.node(depth);
    this.skipSpace();
    const next = this.peek();
    if (next === "{") return this.object(depth);
    if (next === "[") return this.array(depth);
    if (next === '"') return scalar("str", this.string());
    if (this.text.startsWith("true", this.at)) return this.literal("true", scalar("bool", "True"));
    if (this.text.startsWith("false", this.at)) return this.literal("false", scalar("bool", "False"));
    if (this.text.startsWith("null", this.at)) return this.literal("null", NULL);
    return this.number();
  }

  private literal(word: string, value: SopsValue): SopsValue {
    this.at += word.length;
    return value;
  }

  private object(depth: number): SopsMap {
    this.at++;
    const items: Array<SopsMapEntry | SopsComment> = [];
    this.skipSpace();
    if (this.peek() === "}") {
      this.at++;
      return { kind: "map", items };
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '"') throw this.fail("expected a string key");
      const key = this.string();
      this.skipSpace();
      if (this.peek() !== ":") throw this.fail("expected ':' after a key");
      this.at++;
      items.push({ kind: "entry", key, value: this.value(depth + 1) });
      this.skipSpace();
      const next = this.text[this.at++];
      if (next === "}") return { kind: "map", items };
      if (next !== ",") throw this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): SopsList {
    this.at++;
    const items: SopsValue[] = [];
    this.skipSpace();
    if (this.peek() === "]") {
      this.at++;
      return { kind: "list", items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.at++];
      if (next === "]") return { kind: "list", items };
      if (next !== ",") throw this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    // From the opening quote to the first unescaped closing quote; JSON.parse then checks escapes and control characters.
    const start = this.at;
    let end = start + 1;
    for (;;) {
      const quote = this.text.indexOf('"', end);
      if (quote < 0) throw this.fail("unterminated string");
      let backslashes = 0;
      for (let i = quote - 1; this.text[i] === "\\"; i--) backslashes++;
      end = quote + 1;
      if (backslashes % 2 === 0) break;
    }
    this.at = end;
    try {
      return JSON.parse(this.text.slice(start, end)) as string;
    } catch {
      throw this.fail("invalid string");
    }
  }

  private number(): SopsValue {
    const match = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at, this.at + 400));
    if (match === null || match[0] === "") throw this.fail("expected a value");
    this.at += match[0].length;
    const literal = match[0];
    if (match[1] === undefined && match[2] === undefined) {
      const integer = BigInt(literal);
      if (integer >= INT64_MIN && integer <= INT64_MAX) return scalar("int", integer.toString());
    }
    const float = Number(literal);
    if (!Number.isFinite(float)) throw this.fail(`number ${literal} is out of range`);
    return scalar("float", goFloatText(float));
  }
}
