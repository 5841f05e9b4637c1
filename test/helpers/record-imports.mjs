// A module loader hook (node --import): appends every resolved URL to the file in CHANTAL_RECORD_IMPORTS, so a test can
// tell which packages a command's start-up loads.
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(process.env.CHANTAL_RECORD_IMPORTS)}, r.url + "\\n");
  return r;
}`),
);
