// Number formatting shared by tiles, tables and chart axes.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

function scaled(value: number, step: number, units: readonly string[]): [number, string] {
  let v = Math.abs(value);
  let i = 0;
  while (v >= step && i < units.length - 1) {
    v /= step;
    i++;
  }
  return [Math.sign(value) * v, units[i] ?? ''];
}

function digits(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function bytes(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '—';
  const [v, u] = scaled(value, 1024, BYTE_UNITS);
  return `${u === 'B' ? v.toFixed(0) : digits(v)} ${u}`;
}

export function rate(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '—';
  return `${bytes(value)}/s`;
}

export function pct(value: number | null | undefined, fraction = 1): string {
  if (value == null || !Number.isFinite(value)) return '—';
  return `${value.toFixed(fraction)} %`;
}

export function num(value: number | null | undefined, fraction = 2): string {
  if (value == null || !Number.isFinite(value)) return '—';
  return value.toFixed(fraction);
}

export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const hh = String(h).padStart(2, '0');
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return d > 0 ? `${d}d ${hh}:${mm}:${ss}` : `${hh}:${mm}:${ss}`;
}

/** Short axis labels: bytes with binary units but fewer digits. */
export function bytesShort(value: number): string {
  if (value === 0) return '0';
  const [v, u] = scaled(value, 1024, BYTE_UNITS);
  const s = Math.abs(v) >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  return `${s} ${u}`;
}

export function rateShort(value: number): string {
  return value === 0 ? '0' : `${bytesShort(value)}/s`;
}

export function pctShort(value: number): string {
  return `${Number.isInteger(value) ? value : value.toFixed(1)}%`;
}

/** A unix time (seconds) as a short local date and time; '—' for null. */
export function when(unix: number | null | undefined): string {
  if (unix == null || !Number.isFinite(unix) || unix <= 0) return '—';
  const d = new Date(unix * 1000);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    year: sameYear ? undefined : 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** "3 min ago", "in 5 d"; '—' for null. */
export function ago(unix: number | null | undefined, now = Date.now() / 1000): string {
  if (unix == null || !Number.isFinite(unix) || unix <= 0) return '—';
  const d = now - unix;
  const a = Math.abs(d);
  const s =
    a < 60 ? 'just now' : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
  if (s === 'just now') return s;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/** "Firefox on Linux" from a user-agent string (best effort; the full string goes in a tooltip). */
export function userAgent(ua: string | null | undefined): string {
  if (!ua) return '—';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /curl\//.test(ua)
            ? 'curl'
            : null;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : null;
  if (!browser) return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}
