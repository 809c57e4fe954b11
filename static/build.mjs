// Builds every front-end entry point into static/dist with content-hashed names
// and writes static/dist/manifest.json ({"<entry>.js": "<entry>.<hash>.js"}).
// Entry points: static/src/<name>/main.ts -> <name>.js. See docs/frontend.md.
import { build } from "esbuild";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

const entryPoints = Object.fromEntries(
  readdirSync(src, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(src, entry.name, "main.ts")))
    .map((entry) => [entry.name, join(src, entry.name, "main.ts")]),
);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await build({
  entryPoints,
  outdir: dist,
  bundle: true,
  minify: true,
  format: "esm",
  splitting: true,
  target: ["es2020"],
  entryNames: "[name].[hash]",
  chunkNames: "chunks/[name].[hash]",
  assetNames: "assets/[name].[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const manifest = {};
for (const [output, meta] of Object.entries(result.metafile.outputs)) {
  // Only static/src/<name>/main.ts are modules; other entry points are lazy chunks (import()).
  if (!meta.entryPoint || basename(meta.entryPoint) !== "main.ts") continue;
  const name = basename(dirname(meta.entryPoint));
  const ext = output.endsWith(".css") ? "css" : "js";
  manifest[`${name}.${ext}`] = relative(dist, output);
  if (meta.cssBundle) manifest[`${name}.css`] = relative(dist, meta.cssBundle);
}
writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${Object.keys(manifest).length} bundles into static/dist`);
