// Number and time formatting shared by tiles, tables and chart axes.

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

// ---- Times ----
// One time format for the whole app: 24-hour clock, the date only where it is not today, relative
// times ("3 min ago") carrying the absolute time in a tooltip (see components/Ago.svelte). All inputs
// are unix SECONDS; callers holding milliseconds divide by 1000.

const valid = (unix: number | null | undefined): unix is number => unix != null && Number.isFinite(unix) && unix > 0;
const pad = (n: number): string => String(n).padStart(2, '0');
/** hourCycle h23 instead of hour12:false: some engines render midnight as "24:00" with the latter. */
const H23 = { hourCycle: 'h23' } as const;
const fmtHM = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', ...H23 });
const fmtHMS = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', ...H23 });
const fmtMD = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fmtMDY = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const fmtMY = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric' });

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** The date part of `d` as the app writes it: "Dec 4", or "Dec 4, 2025" in another year. */
export function day(d: Date, now: Date = new Date()): string {
  return d.getFullYear() === now.getFullYear() ? fmtMD.format(d) : fmtMDY.format(d);
}

/** "14:05" today, "Dec 4 14:05" on another day, "Dec 4, 2025 14:05" in another year; '—' for null. */
export function when(unix: number | null | undefined, opts: { seconds?: boolean; now?: number } = {}): string {
  if (!valid(unix)) return '—';
  const d = new Date(unix * 1000);
  const now = new Date((opts.now ?? Date.now() / 1000) * 1000);
  const t = (opts.seconds ? fmtHMS : fmtHM).format(d);
  return sameDay(d, now) ? t : `${day(d, now)} ${t}`;
}

/** A clock time with seconds and no date ("14:05:09"), for stamps that are always recent. */
export function clock(unix: number | null | undefined): string {
  return valid(unix) ? fmtHMS.format(new Date(unix * 1000)) : '—';
}

/** A date without a time ("Dec 4" this year, "Dec 4, 2027" otherwise); '—' for null. */
export function date(unix: number | null | undefined): string {
  return valid(unix) ? day(new Date(unix * 1000)) : '—';
}

/** A month ("Mar 2031"), for projections that are no more precise than that; '—' for null. */
export function month(unix: number | null | undefined): string {
  return valid(unix) ? fmtMY.format(new Date(unix * 1000)) : '—';
}

/** The absolute local time, unambiguous, for tooltips: "2025-12-04 14:05:09". */
export function full(unix: number | null | undefined): string {
  if (!valid(unix)) return '';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 min ago", "in 5 d"; '—' for null. Show it with the absolute time as a title (components/Ago.svelte). */
export function ago(unix: number | null | undefined, now = Date.now() / 1000): string {
  if (!valid(unix)) return '—';
  const d = now - unix;
  const a = Math.abs(d);
  const s =
    a < 60 ? 'just now' : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
  if (s === 'just now') return s;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/**
 * Tick labels of a time axis, one line each, chosen by the spacing of the ticks: seconds under a
 * minute, the clock under a day (with the date on the first tick of a new day), days under a month,
 * months above.
 */
export function timeTicks(splits: number[], incr: number): string[] {
  let prev: Date | null = null;
  return splits.map((t) => {
    const d = new Date(t * 1000);
    let out: string;
    if (incr < 60) out = fmtHMS.format(d);
    else if (incr < 86400) out = prev && !sameDay(prev, d) && d.getHours() === 0 && d.getMinutes() === 0 ? fmtMD.format(d) : fmtHM.format(d);
    else if (incr < 28 * 86400) out = fmtMD.format(d);
    else out = fmtMY.format(d);
    prev = d;
    return out;
  });
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
