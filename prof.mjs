import { Lexer, Parser } from "yaml";
const cases = { line: "a: [" + "{}".repeat(8e6) + "]", block: "a:\n" + "- 1\n".repeat(4e6), comments: "#\n".repeat(8e6), flow: "a: [" + "1,".repeat(8e6) + "1]" };
for (const [name, text] of Object.entries(cases)) {
  let t = performance.now();
  let n = 0;
  for (const l of new Lexer().lex(text)) {
    if (++n > 2e5) break;
  }
  const lex = performance.now() - t;
  t = performance.now();
  n = 0;
  const p = new Parser();
  for (const l of new Lexer().lex(text)) {
    if (++n > 2e5) break;
    for (const x of p.next(l));
  }
  console.log(name, "lexer", lex.toFixed(0), "lexer+parser", (performance.now() - t).toFixed(0));
}
