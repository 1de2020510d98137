// Tiny fetch wrapper: JSON in, typed value out, `{error, message}` bodies
// turned into an ApiError whose message is fit to show to the user.
//
// Auth plumbing lives here too: the CSRF token (memory only, never storage)
// goes on every mutating request, and a 401 `unauthorized` or a 403
// `setup_required` from any call is reported to the auth gate once.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds from a `Retry-After` header (429). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * An app URL for `path`, resolved against the document's base URL. The app may sit under a
 * reverse-proxy sub-path (`server.base_path`, announced by index.html's `<base href>`), so a path
 * like `/api/system` means `<base>api/system`, never the origin's root.
 */
export function url(path: string): string {
  return new URL(path.replace(/^\/+/, ''), document.baseURI).href;
}

let csrf: string | null = null;

/** The session's CSRF token: from the login answer or /api/auth/status. */
export function setCsrf(token: string | null): void {
  csrf = token;
}

export type AuthFailure = 'unauthorized' | 'setup_required';
let authFailure: ((kind: AuthFailure) => void) | null = null;

/** The auth gate registers here to hear about expired sessions and a reset appliance. */
export function onAuthFailure(fn: (kind: AuthFailure) => void): void {
  authFailure = fn;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** `path` is app-relative (`/api/...`): see `url`. */
async function request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res: Response;
  try {
    res = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: signal ?? null,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'host unreachable');
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const b = (await res.json()) as { error?: unknown; message?: unknown };
      if (typeof b.error === 'string') code = b.error;
      if (typeof b.message === 'string') message = b.message;
    } catch {
      // Not JSON (a proxy error page, say): keep the status line.
    }
    const retry = Number(res.headers.get('Retry-After'));
    const err = new ApiError(res.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
    if (res.status === 401 && code === 'unauthorized') authFailure?.('unauthorized');
    if (res.status === 403 && code === 'setup_required') authFailure?.('setup_required');
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function getJSON<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', path, undefined, signal);
}

export function postJSON<T = void>(path: string, body?: unknown): Promise<T> {
  return request<T>('POST', path, body ?? {});
}

export function putJSON<T = void>(path: string, body: unknown): Promise<T> {
  return request<T>('PUT', path, body);
}

export function patchJSON<T = void>(path: string, body: unknown): Promise<T> {
  return request<T>('PATCH', path, body);
}

export function deleteJSON<T = void>(path: string): Promise<T> {
  return request<T>('DELETE', path);
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'invalid_credentials') return 'Wrong password or code.';
    if (e.code === 'rate_limited' && e.retryAfter) return `Too many attempts; try again in ${e.retryAfter} s.`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
