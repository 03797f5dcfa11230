import { armor, Decrypter, type Stanza } from "age-encryption";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { AgebootError, describeCause } from "../errors.js";
import { describeIdentity, type LoadedIdentity } from "../identities/types.js";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

/**
 * Decrypt the age file at `file` (binary or armored) and return its plaintext as
 * a stream. The header is checked before this resolves: a file that is not for
 * any of `identities`, or whose header is malformed or tampered with, rejects
 * here. Payload errors (truncation, tampering) surface while reading; read with
 * `collectPlaintext` or `pipePlaintext` so that they are named like header errors.
 */
export async function openPlaintext(file: string, identities: readonly LoadedIdentity[]): Promise<ReadableStream<Uint8Array>> {
  let seenStanzas: Stanza[] = [];
  const decrypter = new Decrypter();
  // Runs first and matches nothing: it keeps the header's stanzas so that a
  // "no identity matched" error can name the recipients the file was made for.
  decrypter.addIdentity({
    unwrapFileKey(stanzas) {
      seenStanzas = stanzas;
      return null;
    },
  });
  for (const loaded of identities) decrypter.addIdentity(loaded.identity);
  let ciphertext: Ciphertext | undefined;
  try {
    ciphertext = await openCiphertext(file);
    return await decrypter.decrypt(ciphertext.stream);
  } catch (error) {
    ciphertext?.close();
    throw explainFailure(file, error, seenStanzas, identities, "header");
  }
}

/** Decrypt a whole file into memory. */
export async function decryptToBuffer(file: string, identities: readonly LoadedIdentity[]): Promise<Buffer> {
  const plaintext = await openPlaintext(file, identities);
  const chunks: Uint8Array[] = [];
  await readPlaintext(file, plaintext, (chunk) => void chunks.push(chunk));
  return Buffer.concat(chunks);
}

/** Feed every plaintext chunk to `sink`, naming the file if the payload fails to authenticate. */
export async function readPlaintext(
  file: string,
  plaintext: ReadableStream<Uint8Array>,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<void> {
  try {
    for await (const chunk of plaintext) await sink(chunk);
  } catch (error) {
    throw explainFailure(file, error, [], [], "payload");
  }
}

interface Ciphertext {
  readonly stream: ReadableStream<Uint8Array>;
  /** Release the file when decryption stops early (the stream closes it when read to the end). */
  close(): void;
}

async function openCiphertext(file: string): Promise<Ciphertext> {
  const source = file === "-" ? null : await open(file, "r");
  try {
    const head = source ? await readHead(source) : null;
    if (source && head !== null && !head.trimStart().startsWith(ARMOR_BEGIN)) {
      // Binary: stream it, so memory does not grow with the size of a secret.
      const nodeStream = createReadStream("", { fd: source, autoClose: true });
      return { stream: Readable.toWeb(nodeStream) as ReadableStream<Uint8Array>, close: () => nodeStream.destroy() };
    }
    const whole = source ? await source.readFile() : await readAllStdin();
    await source?.close();
    const text = whole.toString("latin1");
    return { stream: streamOf(text.trimStart().startsWith(ARMOR_BEGIN) ? decodeArmor(text) : whole), close: () => {} };
  } catch (error) {
    await source?.close().catch(() => {});
    throw error;
  }
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

function decodeArmor(text: string): Uint8Array {
  try {
    return armor.decode(text);
  } catch (error) {
    throw new AgebootError("MALFORMED", `malformed ASCII armor (${describeCause(error)})`);
  }
}

/** The first bytes of a file, as text, leaving the read position at the start. */
async function readHead(handle: import("node:fs/promises").FileHandle): Promise<string> {
  const probe = Buffer.alloc(256);
  const { bytesRead } = await handle.read(probe, 0, probe.length, 0);
  return probe.subarray(0, bytesRead).toString("latin1");
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What each library error text means for a user, and its class. */
const PAYLOAD_FAILURE = "payload does not authenticate: the file is truncated, corrupted or tampered with";
const knownFailures: Array<[RegExp, AgebootError["code"], string]> = [
  [/^invalid header HMAC/, "CORRUPT", "header MAC does not verify: the header was modified, or the file is corrupt"],
  [/^stream ended before/, "CORRUPT", "file is truncated after its header"],
  [/^invalid version/, "MALFORMED", "not an age file (no age-encryption.org/v1 version line)"],
  [/^invalid (stanza|header)|non-ASCII byte in header/, "MALFORMED", "malformed or truncated age header"],
  [/^invalid (X25519|mlkem768x25519|scrypt) stanza|^scrypt/, "MALFORMED", "malformed recipient stanza"],
];

/**
 * Turn anything decryption threw into an AgebootError naming the file and cause.
 * Once the header has verified, every payload error means the ciphertext does
 * not authenticate, whatever words the cipher library used for it.
 */
function explainFailure(
  file: string,
  error: unknown,
  stanzas: Stanza[],
  identities: readonly LoadedIdentity[],
  phase: "header" | "payload",
): AgebootError {
  if (error instanceof AgebootError) return new AgebootError(error.code, `${file}: ${error.message}`, { cause: error });
  const message = describeCause(error);
  if (message === "no identity matched any of the file's recipients") {
    return new AgebootError("NO_MATCH", noMatchMessage(file, stanzas, identities));
  }
  if ((error as NodeJS.ErrnoException).code !== undefined) {
    return new AgebootError("IO", `${file}: cannot read (${message})`, { cause: error });
  }
  if (phase === "payload") return new AgebootError("CORRUPT", `${file}: ${PAYLOAD_FAILURE} (${message})`, { cause: error });
  for (const [pattern, code, meaning] of knownFailures) {
    if (pattern.test(message)) return new AgebootError(code, `${file}: ${meaning} (${message})`, { cause: error });
  }
  return new AgebootError("MALFORMED", `${file}: cannot decrypt (${message})`, { cause: error });
}

function noMatchMessage(file: string, stanzas: Stanza[], identities: readonly LoadedIdentity[]): string {
  const recipients = stanzas.map(describeStanza).join(", ") || "no recipients";
  const tried = identities.map(describeIdentity).join("; ") || "none (no identity could be loaded)";
  return `${file}: no identity matches: the file is encrypted to [${recipients}]; tried: ${tried}. Rekey the file for this host's key.`;
}

/** A stanza as a user can match it against keys: type, and the key tag where the type has one. */
function describeStanza(stanza: Stanza): string {
  const [type = "?", firstArg] = stanza.args;
  if ((type === "ssh-ed25519" || type === "ssh-rsa") && firstArg !== undefined) return `${type} ${firstArg}`;
  if (type === "scrypt") return "scrypt (passphrase-encrypted)";
  return type;
}
