import { AgebootError } from "../errors.js";
import { referencedSecrets, type TemplatePart } from "./placeholder.js";

/**
 * The most a rendered template holds, and so the most of any one secret it
 * takes: a template is a configuration file, and rendering holds all of it,
 * and the plaintext of every secret it names, in memory at once.
 */
export const MAX_RENDERED_BYTES = 16 * 1024 * 1024;

/** A secret a template names, opened: its size first (checked against the bound before a byte is read), then its bytes. */
export interface OpenedSecret {
  readonly size: number;
  /** Exactly `size` bytes, in a buffer the renderer owns and zeroes. */
  read(): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Render a template: its text with every placeholder replaced by the exact
 * bytes of the secret it names. Sizes are added up before anything is read,
 * so a template (or a secret) too large fails naming the bound and the
 * secret, without holding it. Calls `use` with the rendered bytes and zeroes
 * them, and every secret read, afterwards, whatever happens.
 */
export async function renderTemplate(
  parts: readonly TemplatePart[],
  open: (secret: string) => Promise<OpenedSecret>,
  use: (rendered: Buffer) => Promise<void> | void,
): Promise<void> {
  const opened = new Map<string, OpenedSecret>();
  const plaintexts: Buffer[] = [];
  let rendered: Buffer | null = null;
  try {
    for (const name of referencedSecrets(parts)) {
      const secret = await open(name);
      opened.set(name, secret);
      if (secret.size > MAX_RENDERED_BYTES) throw tooLarge(`secret "${name}" alone holds ${secret.size} bytes`);
    }
    let total = 0;
    for (const part of parts) total += "text" in part ? part.text.length : opened.get(part.secret)!.size;
    if (total > MAX_RENDERED_BYTES) throw tooLarge(`it would hold ${total} bytes`);

    const plaintextOf = new Map<string, Buffer>();
    for (const [name, secret] of opened) {
      const plaintext = await secret.read();
      plaintexts.push(plaintext);
      plaintextOf.set(name, plaintext);
    }
    // Buffer.alloc, not allocUnsafe: never a slice of Node's shared pool, whose other slices outlive this template.
    rendered = Buffer.alloc(total);
    let offset = 0;
    for (const part of parts) offset += ("text" in part ? part.text : plaintextOf.get(part.secret)!).copy(rendered, offset);
    await use(rendered);
  } finally {
    rendered?.fill(0);
    for (const plaintext of plaintexts) plaintext.fill(0);
    for (const secret of opened.values()) await secret.close();
  }
}

function tooLarge(why: string): AgebootError {
  return new AgebootError("PLAN", `too large to render: ${why}, more than the ${MAX_RENDERED_BYTES} bytes (16 MiB) a rendered template may hold`);
}
