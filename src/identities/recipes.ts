import type { Identity } from "age-encryption";
import { SshRsaIdentity, type SshRsaRecipe } from "./ssh-rsa.js";
import { X25519StyleIdentity, type X25519Recipe } from "./x25519-style.js";

/**
 * How to rebuild an identity from plain data (key objects, strings, numbers):
 * what a worker thread receives, since class instances do not survive
 * structured cloning but KeyObjects do.
 */
export type IdentityRecipe =
  | { readonly kind: "x25519"; readonly recipe: X25519Recipe }
  | { readonly kind: "ssh-rsa"; readonly recipe: SshRsaRecipe }
  | { readonly kind: "age-encryption"; readonly identity: string };

export function identityFromRecipe(recipe: IdentityRecipe): Identity | string {
  switch (recipe.kind) {
    case "x25519":
      return new X25519StyleIdentity(recipe.recipe);
    case "ssh-rsa":
      return new SshRsaIdentity(recipe.recipe);
    case "age-encryption":
      return recipe.identity;
  }
}
