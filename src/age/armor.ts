import { AgebootError, describeCause } from "../errors.js";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

/** Whether `bytes` start (after white space, as the spec allows) with the age armor line. */
export function isArmored(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).toString("latin1").trimStart().startsWith(ARMOR_BEGIN);
}

/** ASCII armor (age spec, "ASCII armor"), decoded by age-encryption, which is loaded only for armored files. */
export async function decodeArmor(bytes: Uint8Array): Promise<Buffer> {
  const { armor } = await import("age-encryption");
  try {
    return Buffer.from(armor.decode(Buffer.from(bytes).toString("latin1")));
  } catch (error) {
    throw new AgebootError("MALFORMED", `malformed ASCII armor (${describeCause(error)})`);
  }
}
