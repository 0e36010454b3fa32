// Bundles the web page (web/src) into dist/web: one hashed script, one hashed stylesheet, and
// index.html naming them. Run by `npm run build`; serve reads dist/web (docs/web.md).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../dist/web');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, 'src/main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`web build: expected a .js and a .css, got ${outputs.join(', ')}`);
const html = readFileSync(path.join(here, 'index.html'), 'utf8')
  .replace('/__JS__', `/${js}`)
  .replace('/__CSS__', `/${css}`);
writeFileSync(path.join(out, 'index.html'), html);

const gz = (f) => gzipSync(readFileSync(path.join(out, f))).length;
process.stdout.write(
  `web: dist/web/${js} ${(gz(js) / 1024).toFixed(1)} kB gzip, ${css} ${(gz(css) / 1024).toFixed(1)} kB gzip\n`,
);
