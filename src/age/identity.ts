import type { Identity } from "age-encryption";

/**
 * What age/ decrypts with: an object implementing age-encryption's Identity
 * interface (ageboot's own X25519, ssh-ed25519 and ssh-rsa handlers), or an
 * identity string that age-encryption parses itself (post-quantum keys).
 */
export type AgeIdentity = Identity | string;
