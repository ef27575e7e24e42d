// Bundle each widget entry (js/<name>.js) into one self-contained ESM file in
// dw_notebook/static/. anywidget loads `_esm` from a blob URL, so the bundle must not
// contain relative or CDN imports; CSS imported by an entry becomes <name>.css.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

export const WIDGETS = ["progress", "builder", "jobs", "review", "autobatch"];

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "dw_notebook", "static");

const options = {
  entryPoints: WIDGETS.map((name) => path.join(here, `${name}.js`)).filter((p) => fs.existsSync(p)),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  outdir,
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context({ ...options, minify: false });
  await ctx.watch();
} else {
  await esbuild.build(options);
}
