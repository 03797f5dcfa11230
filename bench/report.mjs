// Markdown tables and an SVG chart from the bench results.
const seconds = (value) => (value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`);
const mib = (value) => `${value.toFixed(0)} MiB`;
const ratio = (baseline, ours) => `${(baseline / ours).toFixed(1)}x`;

function row(result) {
  const { ageboot, baseline } = result;
  if (!baseline) return `| ${result.name} | ${seconds(ageboot.wall)} | ${seconds(ageboot.cpu)} | ${mib(ageboot.peakMiB)} | | | | |`;
  return `| ${result.name} | ${seconds(ageboot.wall)} | ${seconds(ageboot.cpu)} | ${mib(ageboot.peakMiB)} | ${seconds(baseline.wall)} | ${seconds(baseline.cpu)} | ${mib(baseline.peakMiB)} | **${ratio(baseline.wall, ageboot.wall)}** |`;
}

export function renderTables(results, machine, plan) {
  const header = ["| set | ageboot wall | ageboot CPU | ageboot peak | baseline wall | baseline CPU | baseline peak | speed-up |", "|---|---|---|---|---|---|---|---|"];
  const scalingRows = results.scaling.map((result) => {
    const perSecret = (value) => `${((value / result.count) * 1000).toFixed(2)} ms`;
    return `| ${result.count} | ${seconds(result.ageboot.wall)} | ${perSecret(result.ageboot.wall)} | ${result.baseline ? seconds(result.baseline.wall) : "not run"} | ${result.baseline ? perSecret(result.baseline.wall) : ""} |`;
  });
  const { startup, large } = results;
  return [
    `Measured ${machine.date} on ${machine.cpu}, ${machine.memory}, Linux ${machine.kernel}, Node.js ${machine.node}, age ${machine.age}.`,
    `Median of ${plan.repetitions} alternating runs after one warm-up each; wall from the clock around each run, CPU (user + system, children included) and peak (largest resident set) from GNU time.`,
    "",
    "### Secrets by count and size (ed25519 host key)",
    "",
    ...header,
    ...results.grid.map(row),
    "",
    "### Mixed keys and recipients, and one large secret",
    "",
    ...header,
    row(results.mixed),
    row(large),
    "",
    `Throughput on the large secret: ageboot ${large.throughputMiBs.ageboot.toFixed(0)} MiB/s, baseline (age) ${large.throughputMiBs.baseline.toFixed(0)} MiB/s.`,
    "",
    "### Start-up",
    "",
    `\`node -e 0\`: ${seconds(startup.nodeAlone.wall)}; \`ageboot activate\` with 10 secrets: ${seconds(startup.tenSecrets.wall)} (**${startup.ratio.toFixed(2)}x** node doing nothing).`,
    `Without the start-up snapshot (\`node dist/cli.js\`, what the launcher falls back to): ${seconds(startup.withoutSnapshot.wall)} (${(startup.withoutSnapshot.wall / startup.nodeAlone.wall).toFixed(2)}x).`,
    "",
    "### Scaling: 64 B secrets (chart: performance-scaling.svg)",
    "",
    "| secrets | ageboot wall | ageboot per secret | baseline wall | baseline per secret |",
    "|---|---|---|---|---|",
    ...scalingRows,
  ].join("\n");
}

/** Time against number of secrets, both axes logarithmic, one line per tool. */
export function renderChart(scaling) {
  const width = 640;
  const height = 400;
  const margin = { left: 70, right: 20, top: 30, bottom: 50 };
  const points = (pick) => scaling.filter((result) => result[pick]).map((result) => [result.count, result[pick].wall]);
  const all = [...points("ageboot"), ...points("baseline")];
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
<text x="${width / 2}" y="18" font-size="14" text-anchor="middle">Activation wall time against number of 64 B secrets (log-log)</text>
${ticksY.join("\n")}
<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="black"/>
<line x1="${margin.left}" x2="${width - margin.right}" y1="${height - margin.bottom}" y2="${height - margin.bottom}" stroke="black"/>
${ticksX.join("\n")}
<text x="${width / 2}" y="${height - 12}" font-size="12" text-anchor="middle">secrets</text>
${line("baseline", "#c0392b", "agenix-style loop (one age process per secret)", 20)}
${line("ageboot", "#2471a3", "ageboot activate", 38)}
</svg>
`;
}
