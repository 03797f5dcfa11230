import { Composer, CST, type Document, Lexer, Parser } from "yaml";
import { AgebootError } from "../errors.js";
import { SOPS_LIMITS } from "./limits.js";

/**
 * The yaml package's three stages (Lexer, Parser, Composer) run by hand, so
 * that the input is counted as it is read and a crafted file stops before the
 * structure it would cost is built: `parseAllDocuments` builds every document
 * whole first, and a 16 MiB file of nested or long flow lists took a minute
 * and 4.6 GB before any bound applied (issue 22). Lexemes, document markers,
 * flow collections, anchors and aliases are counted as the lexer yields them (the lexer keeps
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
  const parser = new Parser();
  let lexemes = 0;
  let documentStarts = 0;
  let anchors = 0;
  let aliases = 0;
  let flowCollections = 0;
  // After the SCALAR marker comes a scalar's own text, which may start with any character.
  let scalarText = false;
  for (const lexeme of new Lexer().lex(text)) {
    if (++lexemes > SOPS_LIMITS.yamlLexemes) throw tooMany(`${SOPS_LIMITS.yamlLexemes} YAML tokens (scalars, indicators, comments, line breaks)`);
    if (!scalarText) {
      if ((lexeme === "---" || lexeme === "...") && ++documentStarts > SOPS_LIMITS.yamlDocuments)
        throw tooMany(`${SOPS_LIMITS.yamlDocuments} YAML document markers ("---", "...")`);
      else if (lexeme.startsWith("&") && ++anchors > SOPS_LIMITS.yamlAnchors) throw tooMany(`${SOPS_LIMITS.yamlAnchors} YAML anchors`);
      else if (lexeme.startsWith("*") && ++aliases > SOPS_LIMITS.yamlAliases) throw tooMany(`${SOPS_LIMITS.yamlAliases} YAML aliases`);
      else if ((lexeme === "[" || lexeme === "{") && ++flowCollections > SOPS_LIMITS.yamlFlowCollections)
        throw tooMany(`${SOPS_LIMITS.yamlFlowCollections} YAML flow collections ("[", "{")`);
    }
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

function tooMany(what: string): AgebootError {
  return new AgebootError("MALFORMED", `more than ${what}`);
}
