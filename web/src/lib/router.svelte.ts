// A tiny history-mode router. The binary answers every non-/api, non-asset
// path with index.html, so deep links and reloads land here. Route paths are
// relative to the base path (see `basePath`), so the app works behind a reverse
// proxy at a sub-path as well as at the root.

export interface RouteDef {
  path: string;
  title: string;
  /** One line about what the page shows (used by the placeholder pages). */
  about: string;
  icon: string;
  /** Shown in the navigation only to users with this role. */
  role?: 'admin';
}

// Icon paths are 24x24 stroke drawings (kept inline: no icon font to ship).
export const routes: RouteDef[] = [
  { path: '/', title: 'Overview', about: 'Host vitals, charts and top processes.', icon: 'M3 13h4v8H3zM10 3h4v18h-4zM17 9h4v12h-4z' },
  {
    path: '/vms',
    title: 'VMs & CTs',
    about: 'Every QEMU VM and LXC container with status, resource use and quick actions.',
    icon: 'M3 4h18v12H3zM8 20h8M12 16v4',
  },
  {
    path: '/containers',
    title: 'Containers',
    about: 'Docker containers inside the guests, reported by the proxwatch agent: state, health, restarts and resource use.',
    icon: 'M12 2l9 5v10l-9 5-9-5V7zM3 7l9 5 9-5M12 12v10',
  },
  {
    path: '/services',
    title: 'Services',
    about: 'Service monitors: HTTP, TCP, ping, DNS and guest agent checks with heartbeat, uptime and incidents.',
    icon: 'M12 10.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM8.5 8.5a5 5 0 0 0 0 7M15.5 8.5a5 5 0 0 1 0 7M5.6 5.6a9 9 0 0 0 0 12.8M18.4 5.6a9 9 0 0 1 0 12.8',
  },
  {
    path: '/storage',
    title: 'Storage',
    about: 'Disks, SMART health, ZFS pools and Proxmox storages with usage and wear.',
    icon: 'M4 5c0-1.7 3.6-3 8-3s8 1.3 8 3v14c0 1.7-3.6 3-8 3s-8-1.3-8-3zM4 5c0 1.7 3.6 3 8 3s8-1.3 8-3M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3',
  },
  {
    path: '/network',
    title: 'Network',
    about: 'Interfaces, bridges and bonds with traffic, errors and link state.',
    icon: 'M12 3v6M5 21v-4h14v4M12 9v8M9 3h6v6H9zM2 21h6M16 21h6',
  },
  {
    path: '/hardware',
    title: 'Hardware',
    about: 'CPU, memory modules, sensors, GPUs, IPMI and UPS information.',
    icon: 'M6 6h12v12H6zM9 9h6v6H9zM9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4',
  },
  {
    path: '/logs',
    title: 'Logs',
    about: 'The system journal and Proxmox task log, searchable and filterable.',
    icon: 'M5 3h10l4 4v14H5zM9 9h6M9 13h6M9 17h4',
  },
  {
    path: '/health',
    title: 'Health',
    about: 'Findings of the periodic health checks across ten categories, with history.',
    icon: 'M3 12h4l3-8 4 16 3-8h4',
  },
  {
    path: '/fleet',
    title: 'Fleet',
    about: 'This host and the other proxwatch appliances side by side: vitals, guests, health and UPS.',
    icon: 'M3 4h8v7H3zM13 4h8v7h-8zM3 13h8v7H3zM13 13h8v7h-8z',
  },
  {
    path: '/terminal',
    title: 'Terminal',
    about: 'A root shell on the host, in the browser.',
    icon: 'M3 4h18v16H3zM7 9l3 3-3 3M12 15h5',
    role: 'admin',
  },
  {
    path: '/security',
    title: 'Security',
    about: 'Users, two-factor authentication, API tokens, sessions and the auth log.',
    icon: 'M12 2l8 3v6c0 5-3.5 9-8 11-4.5-2-8-6-8-11V5z',
  },
  {
    path: '/apidocs',
    title: 'API',
    about: 'The REST API: every operation, who may call it, its shapes, and copy as curl.',
    icon: 'M8 6l-6 6 6 6M16 6l6 6-6 6M14 4l-4 16',
  },
  {
    path: '/settings',
    title: 'Settings',
    about: 'Notification channels, AI rewriting and retention.',
    icon: 'M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1',
  },
];

function normalize(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

/**
 * The path the app is served under, with a trailing slash: `/`, or a reverse proxy's sub-path such
 * as `/proxwatch/` (from index.html's `<base href>`, which the server sets from `server.base_path`).
 * Route paths (`/`, `/vms`, ...) are relative to it; the address bar shows them under it.
 */
export const basePath = new URL(document.baseURI).pathname.replace(/\/*$/, '/');

/** The app path of a URL path under `basePath` (`/proxwatch/vms` -> `/vms`), or null outside it. */
export function appPath(urlPath: string): string | null {
  if (urlPath === basePath.slice(0, -1)) return '/';
  if (!urlPath.startsWith(basePath)) return null;
  return normalize('/' + urlPath.slice(basePath.length));
}

/** The URL path of an app path (`/vms` -> `/proxwatch/vms`), for links and the address bar. */
export function href(path: string): string {
  return basePath + path.replace(/^\/+/, '');
}

export const router = $state({ path: appPath(location.pathname) ?? '/' });

/**
 * A detail page's own name for the document title ("VM 101 web"), tied to the path it was set on so
 * that it never outlives its page; the shell falls back to the route's title.
 */
export const pageTitle = $state<{ path: string | null; title: string | null }>({ path: null, title: null });

/** Called by a detail page (from an effect) once it knows what it shows. */
export function setPageTitle(title: string | null): void {
  pageTitle.path = router.path;
  pageTitle.title = title;
}

/** The route of the current path; a detail page (`/vms/101`) belongs to its section (`/vms`). */
export function current(): RouteDef | undefined {
  return (
    routes.find((r) => r.path === router.path) ??
    routes.find((r) => r.path !== '/' && router.path.startsWith(r.path + '/'))
  );
}

/** Go to `to` (an app path, optionally with a `?query`). */
export function navigate(to: string, replace = false): void {
  const q = to.indexOf('?');
  const path = normalize(q < 0 ? to : to.slice(0, q));
  const url = href(path) + (q < 0 ? '' : to.slice(q));
  if (url === location.pathname + location.search && path === router.path) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  router.path = path;
  window.scrollTo(0, 0);
}

/** The `next` query parameter, if it is a safe same-origin app path. */
export function nextParam(): string | null {
  const n = new URLSearchParams(location.search).get('next');
  if (!n || !n.startsWith('/') || n.startsWith('//') || n.startsWith('/api/')) return null;
  if (n === '/login' || n === '/setup') return null;
  return n;
}

/** Install the popstate listener and the same-origin link interceptor. */
export function startRouter(): () => void {
  const onPop = () => {
    router.path = appPath(location.pathname) ?? '/';
  };
  const onClick = (ev: MouseEvent) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
    const path = appPath(a.pathname);
    // Outside the app (another app behind the same proxy), the API or a file: leave it to the browser.
    if (path === null || path === '/api' || path.startsWith('/api/') || path.startsWith('/assets/')) return;
    // An in-page anchor (`#section`) on the current page: let the browser scroll.
    if (a.hash && path === router.path && a.search === location.search) return;
    ev.preventDefault();
    navigate(path + a.search);
  };
  window.addEventListener('popstate', onPop);
  document.addEventListener('click', onClick);
  return () => {
    window.removeEventListener('popstate', onPop);
    document.removeEventListener('click', onClick);
  };
}
