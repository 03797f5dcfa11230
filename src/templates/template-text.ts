import { closeSync, fstatSync } from "node:fs";
import { AgebootError } from "../errors.js";
import type { TemplateSource } from "../manifest/types.js";
import { readFully } from "../read-fully.js";
import { openTrustedFile } from "../sources/trusted-ciphertext.js";

/** A template is a configuration file: larger is a mistake, or an attempt to exhaust memory. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

/**
 * A template's text as bytes: the manifest's `content`, or its `file`, opened
 * with the rule for ciphertext files (only if no user but root could have
 * chosen what it holds: its placeholders choose which secrets its owner
 * reads), sized on the descriptor before it is read.
 */
export function readTemplateText(source: TemplateSource): Buffer {
  if ("content" in source) return Buffer.from(source.content, "utf8");
  const fd = openTrustedFile(source.file, "render it");
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_TEMPLATE_BYTES) throw new AgebootError("PLAN", `file ${source.file}: ${size} bytes, more than the ${MAX_TEMPLATE_BYTES} bytes (1 MiB) a template may hold`);
    const text = Buffer.alloc(size);
    if (readFully(fd, text, 0) !== size) throw new AgebootError("IO", `file ${source.file}: changed size while being read`);
    return text;
  } finally {
    closeSync(fd);
  }
}
