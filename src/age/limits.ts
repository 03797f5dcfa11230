/**
 * Bounds on what one age header may make ageboot do. A header is untrusted
 * input (docs/design.md, threat model): without them, a crafted 1 MiB header
 * holds ten thousand X25519 stanzas, each costing a key agreement per host
 * key, and a boot waits on that. Each bound sits well above what a real file
 * has; a file beyond one is refused as MALFORMED, naming the bound.
 */

/**
 * Recipient stanzas in one header. agenix and sops-nix encrypt each file to
 * one stanza per recipient: the hosts that use the secret and the people who
 * edit it, a handful usually, tens for a large team, and a secret shared by a
 * whole fleet has one per host. 256 leaves room for that fleet; at ~0.1 ms per
 * stanza and X25519-type key, trying them all stays in the tens of milliseconds.
 */
export const MAX_STANZAS = 256;

/**
 * Bytes of header, version line to MAC line. The largest stanzas in use are
 * a few KiB (mlkem768x25519: 1.6 KiB; ssh-rsa with a 16384-bit key: 2.8 KiB),
 * so MAX_STANZAS of them fit; so does any plugin stanza seen in the wild.
 */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * mlkem768x25519 stanzas tried with a post-quantum identity. Their key
 * agreement runs in JavaScript (age-encryption), ~5 ms each per post-quantum
 * key, fifty times an X25519 stanza, and nothing in such a stanza says whose
 * it is, so each one must be tried. Post-quantum recipients are recent and,
 * by the age spec, not mixed with classical ones: a file has as many as its
 * people and hosts with post-quantum keys, a handful today. 12 keeps the
 * worst case near 60 ms per post-quantum key. This is the tightest bound,
 * and the first to raise if such files grow; the cost is then boot time.
 */
export const MAX_POST_QUANTUM_STANZAS = 12;
