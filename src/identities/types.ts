import type { Identity } from "age-encryption";
import { identityFromRecipe, type IdentityRecipe } from "./recipes.js";

/** An identity ready to decrypt with, and what to tell a user about it. */
export interface LoadedIdentity {
  /** The stanza type it unwraps: "ssh-ed25519", "ssh-rsa", "X25519", "mlkem768x25519". */
  readonly type: string;
  /** A public fingerprint: "SHA256:..." for SSH keys, the age1... recipient for native keys. */
  readonly fingerprint: string;
  /** For SSH keys, the 4-byte stanza tag in base64, as it appears in file headers. */
  readonly tag?: string;
  /** Where it was read from. */
  readonly path: string;
  /** Extra words for a user, e.g. that the key was derived from an SSH key. */
  readonly note?: string;
  /** An Identity object, or an identity string that age-encryption parses itself. */
  readonly identity: Identity | string;
  /** The same identity as plain data, to rebuild it in a worker thread. */
  readonly recipe: IdentityRecipe;
}

/** A loaded identity from what users are told about it and how to build it. */
export function loadedIdentity(about: Omit<LoadedIdentity, "identity" | "recipe">, recipe: IdentityRecipe): LoadedIdentity {
  return { ...about, recipe, identity: identityFromRecipe(recipe) };
}

export function describeIdentity(id: LoadedIdentity): string {
  const tag = id.tag ? ` ${id.tag}` : "";
  const note = id.note ? `, ${id.note}` : "";
  return `${id.type}${tag} ${id.fingerprint} (${id.path}${note})`;
}
