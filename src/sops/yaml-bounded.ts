import { Composer, CST, type Document, Lexer, Parser } from "yaml";
import { AgebootError } from "../errors.js";
import { SOPS_LIMITS } from "./limits.js";

/**
 * The yaml package's three stages (Lexer, Parser, Composer) run by hand, so
 * that the input is counted as it is read and a crafted file stops before the
 * structure it would cost is built: `parseAllDocuments` builds every document
 * whole first, and a 16 MiB file of nested or long flow lists took a minute
 * and 4.6 GB before any bound applied (issue 22). Lines are counted first;
 * lexemes, document markers, flow collections, double-quoted bytes, anchors
 * and aliases are counted as the lexer yields them (the lexer keeps
 * nothing), nesting is read from the parser's stack after each one, and each
 * document is composed only once its lexemes have passed.
 *
 * `uniqueKeys` is off: the yaml package checks a key against every earlier key
 * of its map (quadratic in the map's size); the tree reader checks duplicates
 * with a set (src/sops/parse-yaml.ts).
 */
export function composeYamlBounded(text: string): Document[] {
  const composer = new Composer({ schema: "failsafe", uniqueKeys: false, merge: false, strict: true, prettyErrors: false });
  stopAtFirstError(composer, text);
  return Array.from(composer.compose(boundedSyntaxTree(text)));
}

type ErrorSource = number | readonly number[] | { offset: number };
type OnError = (source: ErrorSource, code: string, message: string, warning?: boolean) => void;

/**
 * The composer records an error for every bad token and goes on, each one an
 * Error with its stack trace: a 16 MiB line of bad flow items made 200,000 of
 * them (1.7 s). The first error ends the read instead. `onError` is the
 * Composer's own field (yaml 2.x, compose/composer.js), which it hands to
 * every compose step; should it ever be gone, parsing fails closed.
 */
function stopAtFirstError(composer: Composer, text: string): void {
  const fields = composer as unknown as { onError: OnError };
  if (typeof fields.onError !== "function") throw new AgebootError("IO", "the yaml package's Composer has no onError field: ageboot needs updating for this yaml version");
  // Some compose steps catch what they call and report it again through onError: the first error stays the one thrown.
  let first: AgebootError | undefined;
  fields.onError = (source, _code, message, warning) => {
    if (warning) return;
    const offset = typeof source === "number" ? source : Array.isArray(source) ? (source[0] ?? 0) : (source as { offset: number }).offset;
    first ??= invalidYaml(text, offset, message);
    throw first;
  };
}

function invalidYaml(text: string, offset: number, message: string): AgebootError {
  let line = 1;
  for (let at = text.indexOf("\n"); at >= 0 && at < offset; at = text.indexOf("\n", at + 1)) line++;
  return new AgebootError("MALFORMED", `not valid YAML (line ${line}): ${message.split("\n")[0]!.slice(0, 200)}`);
}

/** The parser's stack holds the document and the scalar being read besides the collections. */
const STACK_BESIDES_COLLECTIONS = 2;

function* boundedSyntaxTree(text: string): Generator<CST.Token> {
  // Lines first: a long block or multi-line scalar is a single lexeme. Counting stops at the bound.
  let lines = 0;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) {
    if (++lines >= SOPS_LIMITS.yamlLines) throw tooMany(`${SOPS_LIMITS.yamlLines} YAML lines`);
  }
  const parser = new Parser();
  const counts = new LexemeCounts();
  // After the SCALAR marker comes a scalar's own text, which may start with any character.
  let scalarText = false;
  for (const lexeme of new Lexer().lex(text)) {
    counts.add(lexeme, scalarText);
    scalarText = lexeme === CST.SCALAR;
    for (const token of parser.next(lexeme)) {
      if (token.type === "error") throw invalidYaml(text, token.offset, token.message);
      yield token;
    }
    if (parser.stack.length > SOPS_LIMITS.depth + STACK_BESIDES_COLLECTIONS) {
      throw new AgebootError("MALFORMED", `nested deeper than ${SOPS_LIMITS.depth} levels`);
    }
  }
  for (const token of parser.end()) {
    if (token.type === "error") throw invalidYaml(text, token.offset, token.message);
    yield token;
  }
}

/** What the lexer has yielded so far, each count against its bound in SOPS_LIMITS. */
class LexemeCounts {
  private lexemes = 0;
  private documentMarkers = 0;
  private anchors = 0;
  private aliases = 0;
  private doubleQuotedBytes = 0;
  private flowCollections = 0;

  /** `scalarText`: the lexeme is a plain or block scalar's text, not an indicator. */
  add(lexeme: string, scalarText: boolean): void {
    const limits = SOPS_LIMITS;
    if (++this.lexemes > limits.yamlLexemes) throw tooMany(`${limits.yamlLexemes} YAML tokens (scalars, indicators, comments, line breaks)`);
    if (scalarText) return;
    if (lexeme === "---" || lexeme === "...") {
      if (++this.documentMarkers > limits.yamlDocuments) throw tooMany(`${limits.yamlDocuments} YAML document markers ("---", "...")`);
    } else if (lexeme.startsWith("&")) {
      if (++this.anchors > limits.yamlAnchors) throw tooMany(`${limits.yamlAnchors} YAML anchors`);
    } else if (lexeme.startsWith("*")) {
      if (++this.aliases > limits.yamlAliases) throw tooMany(`${limits.yamlAliases} YAML aliases`);
    } else if (lexeme.startsWith('"')) {
      this.doubleQuotedBytes += lexeme.length;
      if (this.doubleQuotedBytes > limits.yamlDoubleQuotedBytes) throw tooMany(`${limits.yamlDoubleQuotedBytes} bytes of YAML double-quoted text`);
    } else if (lexeme === "[" || lexeme === "{") {
      if (++this.flowCollections > limits.yamlFlowCollections) throw tooMany(`${limits.yamlFlowCollections} YAML flow collections ("[", "{")`);
    }
  }
}

function tooMany(what: string): AgebootError {
  return new AgebootError("MALFORMED", `more than ${what}`);
}
