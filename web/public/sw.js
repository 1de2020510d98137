// proxwatch service worker: keeps the app shell (index.html + hashed assets +
// icons) available when the host is unreachable, so the dashboard can open
// and say so honestly. It never touches the API: live data is never cached.
//
// The app may live under a reverse proxy's sub-path (server.base_path), so
// every URL here is relative to the worker's scope (the base path, e.g.
// https://host/proxwatch/), never to the origin's root.
//
// Strategy
//   navigations      network first, fall back to the cached index.html (SPA)
//   <scope>assets/*  cache first (file names are content hashes)
//   other static     stale-while-revalidate (manifest, icons)
// On install it caches index.html, the static files and EVERY file of the
// build under assets/ (each page's chunk and its CSS): a page never opened
// before still opens while the host is down. The build writes that list into
// PRECACHE below (vite.config.ts, precacheList); a new build therefore changes
// this file, and the browser installs the new worker, which caches the new
// build and drops the old one.

const CACHE = 'proxwatch-shell-v3';
/** Paths relative to the scope ("assets/Network-abc123.js"); filled in by the build. */
const PRECACHE = [] /*PRECACHE*/;
const SCOPE = self.registration.scope; // absolute, ends with '/'
const BASE = new URL(SCOPE).pathname; // '/' or '/proxwatch/'
const at = (rel) => new URL(rel, SCOPE).href;
const INDEX = at('index.html');
const ASSETS = BASE + 'assets/';
const STATIC = ['manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png', 'icons/maskable-512.png', 'icons/maskable.svg'].map(at);

/** The hashed assets index.html references (relative to the scope), as absolute URLs. */
function assetsIn(html) {
  const out = new Set();
  for (const m of html.matchAll(/(?:src|href)="((?:\.\/|\/)?assets\/[^"]+)"/g)) {
    const u = new URL(m[1], SCOPE);
    if (u.origin === self.location.origin && u.pathname.startsWith(ASSETS)) out.add(u.href);
  }
  return [...out];
}

/** Fetch and cache each URL not cached yet; one failure does not stop the others. */
async function cacheAll(cache, urls) {
  await Promise.all(
    urls.map(async (url) => {
      try {
        if (await cache.match(url)) return;
        const res = await fetch(url, { cache: 'no-cache' });
        if (res.ok) await cache.put(url, res);
      } catch {
        // Offline or gone: fetched again on the next install or navigation.
      }
    }),
  );
}

/** Cache index.html, everything it references and every chunk of the build; drop assets of old builds. */
async function cacheShell(indexResponse) {
  const cache = await caches.open(CACHE);
  const html = await indexResponse.clone().text();
  const assets = [...new Set([...assetsIn(html), ...PRECACHE.map(at)])];
  await cacheAll(cache, assets);
  await cache.put(INDEX, indexResponse);
  // Lazily loaded chunks are kept too: only prune when the new index no longer
  // references an entry chunk of the same name (i.e. a new build).
  const unhashed = (u) => u.replace(/-[A-Za-z0-9_-]{8}(\.\w+)$/, '$1');
  const keep = new Set(assets.map(unhashed));
  for (const req of await cache.keys()) {
    const url = new URL(req.url);
    url.search = '';
    if (!url.pathname.startsWith(ASSETS) || assets.includes(url.href)) continue;
    // With the build's full list, anything else under assets/ is from an older build.
    if (PRECACHE.length > 0 || keep.has(unhashed(url.href))) await cache.delete(req);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all(
        STATIC.map((u) =>
          cache.add(u).catch(() => {
            /* optional */
          }),
        ),
      );
      try {
        const res = await fetch(SCOPE, { cache: 'no-cache' });
        if (res.ok) await cacheShell(res);
        else await cacheAll(cache, PRECACHE.map(at));
      } catch {
        await cacheAll(cache, PRECACHE.map(at));
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(BASE)) return;
  const path = url.pathname.slice(BASE.length); // relative to the scope
  // Never cache or intercept the API (live data, SSE stream, auth) or the metrics.
  if (path === 'api' || path.startsWith('api/') || path === 'metrics') return;

  if (req.mode === 'navigate') {
    event.respondWith(
      (async () => {
        try {
          const res = await fetch(req);
          const type = res.headers.get('content-type') || '';
          if (res.ok && type.includes('text/html')) {
            event.waitUntil(cacheShell(res.clone()).catch(() => {}));
          }
          return res;
        } catch {
          const cached = await caches.match(INDEX);
          return cached || new Response('proxwatch: host unreachable and no cached copy of the app yet.', {
            status: 503,
            headers: { 'content-type': 'text/plain; charset=utf-8' },
          });
        }
      })(),
    );
    return;
  }

  if (url.pathname.startsWith(ASSETS)) {
    event.respondWith(
      (async () => {
        const cached = await caches.match(req);
        if (cached) return cached;
        const res = await fetch(req);
        if (res.ok) {
          const copy = res.clone();
          event.waitUntil(caches.open(CACHE).then((c) => c.put(req, copy)));
        }
        return res;
      })(),
    );
    return;
  }

  if (STATIC.includes(url.href)) {
    event.respondWith(
      (async () => {
        const cached = await caches.match(req);
        const fresh = fetch(req)
          .then(async (res) => {
            if (res.ok) await (await caches.open(CACHE)).put(req, res.clone());
            return res;
          })
          .catch(() => cached || Response.error());
        return cached || fresh;
      })(),
    );
  }
});
