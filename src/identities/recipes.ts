import type { Identity } from "age-encryption";
import { SshRsaIdentity, type SshRsaKey } from "./ssh-rsa.js";
import { X25519StanzaIdentity, type X25519StanzaKeys } from "./x25519-stanzas.js";

/**
 * How to rebuild an identity from plain data (key objects, strings, numbers):
 * what a worker thread receives, since class instances do not survive
 * structured cloning but KeyObjects do.
 */
export type IdentityRecipe =
  | { readonly kind: "x25519"; readonly keys: X25519StanzaKeys }
  | { readonly kind: "ssh-rsa"; readonly key: SshRsaKey }
  | { readonly kind: "age-encryption"; readonly identity: string };

export function identityFromRecipe(recipe: IdentityRecipe): Identity | string {
  switch (recipe.kind) {
    case "x25519":
      return new X25519StanzaIdentity(recipe.keys);
    case "ssh-rsa":
      return new SshRsaIdentity(recipe.key);
    case "age-encryption":
      return recipe.identity;
  }
}
