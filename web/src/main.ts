import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { initTheme } from './lib/theme.svelte';
import { prefetchOverview } from './lib/overview.svelte';
import { appPath } from './lib/router.svelte';

initTheme();
// The Overview's summary is asked for beside the login status, not after it.
if (appPath(location.pathname) === '/') prefetchOverview();

const target = document.getElementById('app');
if (!target) throw new Error('#app missing from index.html');
mount(App, { target });

// The service worker keeps the shell available when the host is unreachable.
// Only in production builds: in dev it would cache Vite's modules.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    // Under the base path (a reverse proxy's sub-path, or /): the worker only controls the app.
    const sw = new URL('sw.js', document.baseURI).href;
    navigator.serviceWorker.register(sw, { scope: new URL('./', document.baseURI).href }).catch((e: unknown) => {
      console.warn('proxwatch: service worker registration failed', e);
    });
  });
}
