import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/**
 * Writes the list of every file the build put under assets/ (each route's chunk, its CSS, the
 * shared chunks) into dist/sw.js in place of its `[] /*PRECACHE*\/` marker, so that the service
 * worker caches them all on install and a page never visited still opens while the host is down.
 * The list changes with every build that changes a file, and with it sw.js, which is how the
 * browser learns that there is a new build to cache.
 */
function precacheList(): Plugin {
  let outDir = 'dist';
  let files: string[] = [];
  return {
    name: 'proxwatch-precache',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    generateBundle(_opts, bundle) {
      files = Object.keys(bundle)
        .filter((f) => f.startsWith('assets/'))
        .sort();
    },
    writeBundle() {
      const sw = join(outDir, 'sw.js');
      const src = readFileSync(sw, 'utf8');
      const marker = '[] /*PRECACHE*/';
      if (!src.includes(marker)) throw new Error(`${sw}: the ${marker} marker is missing`);
      writeFileSync(sw, src.replace(marker, JSON.stringify(files)));
    },
  };
}

/**
 * Writes a brotli (`.br`) and a gzip (`.gz`) copy beside every text file of the build (scripts, styles,
 * the service worker, the manifest, SVG icons) where compression saves at least a tenth; the server
 * sends one of them when the browser accepts it (src/web.rs). Runs after precacheList, so sw.js is
 * compressed with its list in it.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  return {
    name: 'proxwatch-precompress',
    apply: 'build',
    enforce: 'post',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    writeBundle: {
      sequential: true,
      order: 'post',
      handler() {
        for (const file of walk(outDir)) {
          if (!/\.(js|css|html|svg|webmanifest|json)$/.test(file)) continue;
          const raw = readFileSync(file);
          const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
          const gz = gzipSync(raw, { level: 9 });
          if (br.length <= raw.length * 0.9) writeFileSync(`${file}.br`, br);
          if (gz.length <= raw.length * 0.9) writeFileSync(`${file}.gz`, gz);
        }
      },
    },
  };
}

// During development the API lives on a separate process (the proxwatch binary
// or a mock); PROXWATCH_API points the dev server's proxy at it.
const api = process.env.PROXWATCH_API ?? 'http://127.0.0.1:8008';

export default defineConfig({
  plugins: [svelte(), precacheList(), precompress()],
  // Relative asset URLs: the app is served at / or under a reverse-proxy sub-path (server.base_path);
  // index.html's <base href> (the server rewrites it) anchors them, even at deep client routes.
  base: './',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // uPlot (~50 KB min) and xterm.js (~330 KB min, loaded only by the Terminal
    // page) get their own chunks below; nothing should come close to the
    // default 500 KB limit, so keep Vite's default warning on.
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/uplot')) return 'uplot';
          // Only the lazily loaded Terminal page imports xterm.js, so this chunk stays lazy too.
          if (id.includes('node_modules/@xterm')) return 'xterm';
          if (id.includes('node_modules/svelte')) return 'svelte';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
    },
  },
});
