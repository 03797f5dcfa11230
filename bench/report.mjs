// Markdown tables and an SVG chart from the bench results.
const seconds = (value) => (value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`);
const mib = (value) => `${value.toFixed(0)} MiB`;
const times = (value) => `${value.toFixed(2)}x`;
const perSecret = (result, tool) => `${((result[tool].wall / result.count) * 1000).toFixed(2)} ms`;
const cell = (result, tool, show) => (result[tool] ? show(result[tool]) : "");

const COUNT_HEADER = [
  "| set | ageboot wall | ageboot CPU | ageboot peak | ageboot per secret | Go wall | Go peak | agenix-style wall | agenix-style peak | ageboot ÷ Go | agenix-style ÷ ageboot |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
];

function countRow(result) {
  const { ageboot, go, baseline } = result;
  return [
    result.name,
    seconds(ageboot.wall),
    seconds(ageboot.cpu),
    mib(ageboot.peakMiB),
    perSecret(result, "ageboot"),
    cell(result, "go", (value) => seconds(value.wall)),
    cell(result, "go", (value) => mib(value.peakMiB)),
    baseline ? seconds(baseline.wall) : "not run",
    cell(result, "baseline", (value) => mib(value.peakMiB)),
    go ? `**${times(ageboot.wall / go.wall)}**` : "",
    baseline ? `**${times(baseline.wall / ageboot.wall)}**` : "",
  ].join(" | ");
}

export function renderTables(results, machine, plan) {
  const { startup, large } = results;
  const goLine = machine.go ? `the Go peer built with ${machine.go}` : `the Go peer not run (${plan.goSkipped})`;
  const largeRows = large.flatMap((result) =>
    ["ageboot", "go", "baseline"]
      .filter((tool) => result[tool])
      .map(
        (tool) =>
          `| ${result.name} | ${{ ageboot: "ageboot", go: "Go (filippo.io/age)", baseline: "agenix-style (one age)" }[tool]} | ${seconds(result[tool].wall)} | ${seconds(result[tool].cpu)} | ${mib(result[tool].peakMiB)} | ${(result.mebibytes / result[tool].wall).toFixed(0)} MiB/s |`,
      ),
  );
  const ratio = (tool) => (startup[tool] ? `${seconds(startup[tool].wall)} (**${times(startup[tool].wall / startup.node.wall)}**)` : "not run");
  const bootByCount = new Map(results.boot.map((result) => [result.name.split(",")[0], result]));
  const switchRows = results.switch.map((result) => {
    const boot = bootByCount.get(result.name.split(",")[0]);
    return `| ${countRow(result)} | ${boot ? perSecret(boot, "ageboot") : ""} |`;
  });
  return [
    `Measured ${machine.date} on ${machine.cpu}, ${machine.memory}, Linux ${machine.kernel}, Node.js ${machine.node}, age ${machine.age}, ${goLine}; load average at the end ${machine.load}.`,
    `\`node bench/run.mjs${plan.command ? ` ${plan.command}` : ""}\` (what \`npm run bench\` runs after the build): median of ${plan.repetitions} rounds after one warm-up each (at most 3 at 10,000 secrets and for the large secret), the tools in turn within a round; wall from the clock around each run, CPU (user + system, children included) and peak (largest resident set of one process) from GNU time. Ratios are of medians from the same run.`,
    "",
    "### Boot: nothing mounted, no current generation (ed25519 host key)",
    "",
    "Every run starts with the mount point unmounted and no secretsDir link, as after a reboot: each tool mounts its ramfs.",
    "",
    ...COUNT_HEADER,
    ...results.boot.map((result) => `| ${countRow(result)} |`),
    `| ${countRow(results.mixed)} |`,
    "",
    "### Switch: a current generation, a tenth of the secrets changed",
    "",
    "Runs alternate between two manifests that differ in a tenth of the secrets' files; the ramfs stays mounted.",
    "",
    `${COUNT_HEADER[0]} ageboot per secret at boot |`,
    `${COUNT_HEADER[1]}---|`,
    ...switchRows,
    "",
    "### One large secret (boot case)",
    "",
    "| secret | tool | wall | CPU | peak | throughput |",
    "|---|---|---|---|---|---|",
    ...largeRows,
    "",
    "### Start-up: 10 secrets of 64 B, boot case",
    "",
    `Medians of ${plan.startupRounds} rounds, each ratio against \`node -e 0\` (${seconds(startup.node.wall)}) in the same run:`,
    `ageboot ${ratio("ageboot")}; without the code cache (\`node --stack-trace-limit=11 dist/start.cjs\`: a flag makes V8 refuse the cache, as another Node.js would) ${ratio("bundle")}; the Go peer ${ratio("go")}.`,
  ].join("\n");
}

/** Time against number of secrets, both axes logarithmic, one line per tool. */
export function renderChart(scaling) {
  const width = 640;
  const height = 400;
  const margin = { left: 70, right: 20, top: 30, bottom: 50 };
  const points = (pick) => scaling.filter((result) => result[pick]).map((result) => [result.count, result[pick].wall]);
  const all = [...points("ageboot"), ...points("go"), ...points("baseline")];
  const [minX, maxX] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [minY, maxY] = [Math.min(...all.map((p) => p[1])) / 1.5, Math.max(...all.map((p) => p[1])) * 1.5];
  const x = (value) => margin.left + ((Math.log10(value) - Math.log10(minX)) / (Math.log10(maxX) - Math.log10(minX) || 1)) * (width - margin.left - margin.right);
  const y = (value) => height - margin.bottom - ((Math.log10(value) - Math.log10(minY)) / (Math.log10(maxY) - Math.log10(minY))) * (height - margin.top - margin.bottom);
  const line = (pick, color, label, offset) => {
    const coords = points(pick).map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    return [
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(" ")}"/>`,
      ...points(pick).map(([px, py]) => `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${color}"/>`),
      `<text x="${margin.left + 10}" y="${margin.top + offset}" fill="${color}" font-size="13">${label}</text>`,
    ].join("\n");
  };
  const ticksX = scaling.map((result) => `<text x="${x(result.count).toFixed(1)}" y="${height - margin.bottom + 18}" font-size="11" text-anchor="middle">${result.count}</text>`);
  const ticksY = [];
  for (let exponent = Math.floor(Math.log10(minY)); exponent <= Math.ceil(Math.log10(maxY)); exponent++) {
    const value = 10 ** exponent;
    if (value < minY || value > maxY) continue;
    ticksY.push(`<text x="${margin.left - 8}" y="${y(value).toFixed(1)}" font-size="11" text-anchor="end">${value >= 1 ? `${value} s` : `${value * 1000} ms`}</text>`);
    ticksY.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" stroke="#ddd"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="18" font-size="14" text-anchor="middle">Boot case: wall time against number of 64 B secrets (log-log)</text>
${ticksY.join("\n")}
<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="black"/>
<line x1="${margin.left}" x2="${width - margin.right}" y1="${height - margin.bottom}" y2="${height - margin.bottom}" stroke="black"/>
${ticksX.join("\n")}
<text x="${width / 2}" y="${height - 12}" font-size="12" text-anchor="middle">secrets</text>
${line("baseline", "#c0392b", "agenix-style loop (one age process per secret)", 20)}
${line("ageboot", "#2471a3", "ageboot activate", 38)}
${points("go").length > 0 ? line("go", "#1e8449", "single-process Go installer (filippo.io/age)", 56) : ""}
</svg>
`;
}
