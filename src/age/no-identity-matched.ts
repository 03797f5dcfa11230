import { AgebootError } from "../errors.js";
import type { Stanza } from "./header.js";

/**
 * The file is well-formed but none of the identities can unwrap its file key.
 * Carries the header's stanzas so that the caller, who knows where the
 * identities came from, can tell people which keys the file is for.
 */
export class NoIdentityMatchedError extends AgebootError {
  override name = "NoIdentityMatchedError";
  constructor(readonly stanzas: readonly Stanza[]) {
    super("NO_MATCH", "no identity matched any of the file's recipients");
  }
}
