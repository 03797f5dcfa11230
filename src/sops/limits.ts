import { AgebootError } from "../errors.js";

/**
 * Bounds on a sops file, which is untrusted input (DESIGN.md invariant 8):
 * whoever writes the repository of encrypted files chooses its bytes. Each
 * bound is checked while the file is read, before the structure it limits is
 * built, so a crafted file fails in bounded time and memory, naming the
 * secret. Real sops files are a few KiB; docs/security.md ("sops files")
 * gives the shapes of real files measured against each bound.
 */
export const SOPS_LIMITS = {
  /** The encrypted file as read from disk (room for a large binary secret: base64 in an ENC[] value). */
  fileBytes: 16 * 1024 * 1024,
  /** Nesting of maps and lists. */
  depth: 64,
  /** Keys, list items, scalars and comments together, aliases counted as what they expand to. */
  nodes: 50_000,
  /**
   * Characters of keys, scalars and comments together, aliases counted as
   * what they expand to. Without aliases a tree holds at most the file's
   * characters; an alias costs nothing to write but its expansion is hashed,
   * walked and decrypted again downstream (one 15 MiB scalar expanded 49,000
   * times through nested aliases: over 120 s). A file's own keys, scalars
   * and comments hold fewer characters than its bytes, so the file bound is
   * reached only through aliases.
   */
  treeChars: 16 * 1024 * 1024,
  /**
   * Characters of one map key. A key is the additional data of every
   * encrypted value under it: one 8 MiB key over 45,000 copies of one value
   * cost 8 MiB of AES-GCM additional data each (killed at 100 s). Real keys
   * are names, tens of characters.
   */
  keyChars: 64 * 1024,
  /**
   * Characters of key paths (the additional data `a:b:c:`) over all the
   * leaves of a file, and bytes decrypted per file. Each is what the walk
   * hashes and decrypts; without aliases the decrypted bytes are fewer than
   * the file's, and a real file's paths add up to a few KiB.
   */
  pathChars: 16 * 1024 * 1024,
  decryptedBytes: 16 * 1024 * 1024,
  /**
   * Characters of one key or comment tested against a selection regex
   * (encrypted_regex, unencrypted_comment_regex, ...). V8's linear-time
   * engine takes memory and time in proportion to the text times the
   * pattern's states: a 1,001-character pattern of repeated `(?:a?){15}` on
   * a 64 KiB key took over 3 GiB (outside attack), on 1 KiB 80 MiB and
   * 0.19 s, on 512 about half that. Real keys are names of tens of
   * characters; sops' comment lines, a line of text.
   */
  regexTestedChars: 512,
  /**
   * Work of the selection regex over a file: the characters of every
   * distinct key or comment tested, times the pattern's length plus one
   * (each distinct text is tested once). 4 Mi is about 0.8 s with the worst
   * pattern measured, and 60 times a large real file (500 keys three deep,
   * a 20-character `^(data|stringData)$`: 70 Ki).
   */
  regexWork: 4 * 1024 * 1024,
  /**
   * YAML lexemes: scalars, indicators, comments, anchors, tags, runs of
   * spaces and line breaks, counted as the lexer yields them and before the
   * parser keeps them: eight per `key: value` line, so about 6,000 such
   * lines. The yaml package's stages cost a few microseconds per lexeme, so
   * this bound is what keeps a crafted file's parse well under a second.
   */
  yamlLexemes: 50_000,
  /**
   * YAML flow collections (`[…]`, `{…}`), which cost the parser several
   * times a scalar each; sops writes only empty ones in its metadata
   * (`kms: []`, five at most in the files measured).
   */
  yamlFlowCollections: 5_000,
  /**
   * YAML lines. A block or multi-line scalar is one lexeme whatever its
   * length, and the composer folds it line by line at about 200 bytes a line
   * (4 M lines of one block scalar: 854 MiB). sops writes one line per value
   * and about ten per age entry.
   */
  yamlLines: 50_000,
  /**
   * Bytes of YAML double-quoted scalars, all together. The yaml package
   * folds them one character at a time at about 36 bytes each (one 16 MiB
   * double-quoted value: 606 MiB); sops quotes only short clear values such
   * as `lastmodified`, and writes encrypted values plain.
   */
  yamlDoubleQuotedBytes: 256 * 1024,
  /** YAML document markers (`---` and `...`); each document is a sops branch. */
  yamlDocuments: 256,
  /** YAML anchors (`&name`) and aliases (`*name`), each; sops itself writes none. */
  yamlAnchors: 1024,
  yamlAliases: 1024,
  /** Entries in `sops.age`, over all key groups. */
  ageEntries: 256,
  /**
   * Characters of one age entry's `enc` (an armored age file holding the
   * 32-byte data key). sops writes one stanza per entry: a few hundred bytes,
   * 2.5 KiB for a post-quantum one. Without it, one 15 MiB entry was decoded
   * and copied whole (163 MiB) before its header was looked at.
   */
  ageEntryChars: 64 * 1024,
  /**
   * Recipient stanzas tried over all the age entries of one sops file. Each
   * entry is an age header bounded on its own (src/age/limits.ts, 256
   * stanzas); without a total, 256 entries of 256 stanzas cost 65,536 key
   * agreements per host key. sops writes one stanza per entry, so a real
   * file has at most `ageEntries` of them: twice that leaves room.
   */
  stanzasPerFile: 512,
  /** `key_groups` (each one Shamir share). */
  keyGroups: 16,
  /** A key path in the manifest: components. */
  keyPathComponents: 64,
} as const;

/** Counts nodes and depth while a parser builds a tree; throws MALFORMED past the bounds. */
export class TreeBudget {
  private nodeCount = 0;
  private charCount = 0;

  /** Nodes and characters counted so far: a YAML alias's expansion is charged again as the difference over its anchor's first reading. */
  get nodes(): number {
    return this.nodeCount;
  }
  get chars(): number {
    return this.charCount;
  }

  /** One node at `depth` holding `chars` characters (a scalar's, key's or comment's text). */
  node(depth: number, chars = 0): void {
    this.charge(1, chars);
    if (depth > SOPS_LIMITS.depth) throw new AgebootError("MALFORMED", `nested deeper than ${SOPS_LIMITS.depth} levels`);
  }

  charge(nodes: number, chars: number): void {
    this.nodeCount += nodes;
    this.charCount += chars;
    if (this.nodeCount > SOPS_LIMITS.nodes) throw new AgebootError("MALFORMED", `more than ${SOPS_LIMITS.nodes} keys, values and comments`);
    if (this.charCount > SOPS_LIMITS.treeChars)
      throw new AgebootError("MALFORMED", `keys, values and comments add up to more than ${SOPS_LIMITS.treeChars} characters (YAML aliases counted as what they expand to)`);
  }
}
