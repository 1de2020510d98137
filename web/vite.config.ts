import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// During development the API lives on a separate process (the proxwatch binary
// or a mock); PROXWATCH_API points the dev server's proxy at it.
const api = process.env.PROXWATCH_API ?? 'http://127.0.0.1:8008';

export default defineConfig({
  plugins: [svelte()],
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
