import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { initTheme } from './lib/theme.svelte';

initTheme();

const target = document.getElementById('app');
if (!target) throw new Error('#app missing from index.html');
mount(App, { target });

// The service worker keeps the shell available when the host is unreachable.
// Only in production builds: in dev it would cache Vite's modules.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e: unknown) => {
      console.warn('proxwatch: service worker registration failed', e);
    });
  });
}
