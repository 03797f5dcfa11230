// Entry of the ES module bundle (dist/cli.js): what runs when there is no
// start-up snapshot for this Node.js (dist/ageboot, the launcher, decides).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2), { from: "the bundle", readyAtMs: performance.now() });
