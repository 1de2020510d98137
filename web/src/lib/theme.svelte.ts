// Theme preference: 'system' follows prefers-color-scheme; only this choice is
// kept in localStorage.

export type ThemePref = 'system' | 'light' | 'dark';
const KEY = 'proxwatch.theme';

function readPref(): ThemePref {
  try {
    const v = localStorage.getItem(KEY);
    if (v === 'light' || v === 'dark') return v;
  } catch {
    // Storage disabled: fall back to the system preference.
  }
  return 'system';
}

const media = window.matchMedia('(prefers-color-scheme: dark)');

export const theme = $state({ pref: readPref(), systemDark: media.matches });

export function effectiveTheme(): 'light' | 'dark' {
  if (theme.pref === 'system') return theme.systemDark ? 'dark' : 'light';
  return theme.pref;
}

function apply(): void {
  const t = effectiveTheme();
  document.documentElement.dataset.theme = t;
  document.documentElement.style.colorScheme = t;
  // The browser's own bars (and an installed app's title bar) take the page background of the theme
  // in use; the manifest's theme_color is only the dark default for the moment before this runs.
  let meta = document.querySelector<HTMLMetaElement>('meta[name="theme-color"]:not([media])');
  if (!meta) {
    meta = document.createElement('meta');
    meta.name = 'theme-color';
    document.head.append(meta);
  }
  const bg = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim();
  meta.content = bg || (t === 'dark' ? '#14171c' : '#f4f6f9');
}

export function setTheme(pref: ThemePref): void {
  theme.pref = pref;
  try {
    if (pref === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, pref);
  } catch {
    // Not persisted; still applied for this session.
  }
  apply();
}

export function cycleTheme(): void {
  const order: ThemePref[] = ['system', 'light', 'dark'];
  setTheme(order[(order.indexOf(theme.pref) + 1) % order.length] ?? 'system');
}

export function initTheme(): void {
  media.addEventListener('change', (e) => {
    theme.systemDark = e.matches;
    apply();
  });
  apply();
}
