import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = (options: { type: "minor" }) => void;
let collect: Collect | null | undefined;

/**
 * A scavenge (V8's young-generation collection, well under a millisecond
 * with the small heap ageboot has), for the streaming of a large secret.
 * Node's cipher returns every 64 KiB chunk of plaintext in a new buffer, and
 * V8 collects such buffers only when its external memory has grown by about
 * 64 MB: a 256 MiB secret took the process from 50 to 96 MB. Scavenging
 * every few MiB frees them as they are left behind (measured in
 * docs/performance.md), and the freed memory is reused instead of faulting in
 * new pages. `gc` is exposed on first use, for this alone, in a context of
 * its own (node:vm), so no other code sees it.
 */
export function collectYoungGarbage(): void {
  if (collect === undefined) {
    setFlagsFromString("--expose-gc");
    const exposed: unknown = runInNewContext("typeof gc === 'function' ? gc : null");
    collect = typeof exposed === "function" ? (exposed as Collect) : null;
  }
  collect?.({ type: "minor" });
}
