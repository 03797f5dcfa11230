// Entry of dist/start.cjs, what the launcher (dist/ageboot) runs: the CLI from
// its CommonJS bundle and the bundle's code cache (src/code-cache/load.ts).
import { loadBundle } from "./load.js";

const { bundle, from } = loadBundle(__dirname, true);
// node dist/start.cjs ARGS...: argv is [node, start.cjs, ...ARGS].
bundle.run(process.argv.slice(2), from, performance.now());
