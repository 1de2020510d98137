// The channel editor's model: each kind's config fields (channels/*.rs), how a form value becomes
// the JSON the server takes (secrets: a masked value sent back keeps the stored one), the routing
// fields as form strings, and the checks made before saving (the server checks again and its
// message is shown on a 4xx).

import { isHHMM, MASK, type ChannelKind, type NotifyRouting } from './notify.svelte';

export type FieldType = 'text' | 'url' | 'secret' | 'int' | 'bool' | 'select' | 'textarea' | 'list' | 'headers';

export interface Field {
  key: string;
  label: string;
  type: FieldType;
  required?: boolean;
  placeholder?: string;
  hint?: string;
  options?: { value: string; label: string }[];
  /** Initial value of a new channel. */
  initial?: string | boolean;
  /** Shown (and checked) only when this holds for the form's values. */
  when?: (v: Values) => boolean;
  /** A secret that may be removed again (an optional token or password): cleared it is sent as this. */
  clearAs?: null | [];
  /** A secret that is a URL (checked like a `url` field). */
  url?: boolean;
  /** Numbers: the accepted range. */
  min?: number;
  max?: number;
}

export interface Header {
  name: string;
  value: string;
}

/** The form's values: strings for inputs, booleans for checkboxes, a header list for `headers`. */
/** As typed; an `int` field's number input makes its value a number (or null when emptied). */
export type Values = Record<string, string | number | null | boolean | Header[]>;

const smtp = (v: Values) => v.transport !== 'sendmail';

export const FIELDS: Record<ChannelKind, Field[]> = {
  telegram: [
    { key: 'bot_token', label: 'Bot token', type: 'secret', required: true, placeholder: '123456:ABC-DEF…', hint: 'From @BotFather.' },
    { key: 'chat_id', label: 'Chat ID', type: 'text', required: true, placeholder: '-1001234567890 or @channelname' },
    { key: 'topic_id', label: 'Topic ID', type: 'int', placeholder: 'optional', hint: 'A forum topic (message_thread_id).', min: 1 },
    { key: 'silent_below_critical', label: 'Send non-critical messages silently', type: 'bool', initial: false },
    { key: 'base_url', label: 'Bot API server', type: 'url', initial: 'https://api.telegram.org', hint: 'Only for a Bot API proxy or a local server.' },
  ],
  discord: [
    {
      key: 'webhook_url',
      label: 'Webhook URL',
      type: 'secret',
      url: true,
      required: true,
      placeholder: 'https://discord.com/api/webhooks/…',
      hint: 'Channel settings → Integrations → Webhooks. The URL is the secret.',
    },
    { key: 'username', label: 'Username', type: 'text', placeholder: 'optional (the webhook’s name)' },
    { key: 'thread_id', label: 'Thread ID', type: 'text', placeholder: 'optional' },
  ],
  email: [
    {
      key: 'transport',
      label: 'Transport',
      type: 'select',
      initial: 'smtp',
      options: [
        { value: 'smtp', label: 'SMTP server' },
        { value: 'sendmail', label: 'The host’s sendmail (Postfix)' },
      ],
    },
    { key: 'host', label: 'SMTP host', type: 'text', required: true, placeholder: 'smtp.example.com', when: smtp },
    {
      key: 'security',
      label: 'Security',
      type: 'select',
      initial: 'tls',
      when: smtp,
      options: [
        { value: 'tls', label: 'TLS (port 465)' },
        { value: 'starttls', label: 'STARTTLS (port 587)' },
        { value: 'none', label: 'None (port 25)' },
      ],
    },
    { key: 'port', label: 'Port', type: 'int', placeholder: 'the security’s default', when: smtp, min: 1, max: 65535 },
    { key: 'username', label: 'Username', type: 'text', placeholder: 'optional', when: smtp },
    { key: 'password', label: 'Password', type: 'secret', when: smtp, clearAs: null },
    { key: 'from', label: 'From', type: 'text', required: true, placeholder: 'proxwatch@example.com' },
    { key: 'to', label: 'To', type: 'list', required: true, placeholder: 'admin@example.com\nops@example.com', hint: 'Several: comma-separated or one per line.' },
    { key: 'accept_invalid_certs', label: 'Accept an invalid (self-signed) certificate', type: 'bool', initial: false, when: smtp },
  ],
  gotify: [
    { key: 'server', label: 'Server', type: 'url', required: true, placeholder: 'https://gotify.example.com' },
    { key: 'token', label: 'Application token', type: 'secret', required: true },
  ],
  ntfy: [
    { key: 'server', label: 'Server', type: 'url', initial: 'https://ntfy.sh' },
    { key: 'topic', label: 'Topic', type: 'text', required: true, placeholder: 'proxwatch-7f3a…' },
    { key: 'token', label: 'Access token', type: 'secret', placeholder: 'optional (tk_…)', clearAs: null },
    { key: 'username', label: 'Username', type: 'text', placeholder: 'optional, without a token' },
    { key: 'password', label: 'Password', type: 'secret', clearAs: null },
  ],
  webhook: [
    {
      key: 'preset',
      label: 'Preset',
      type: 'select',
      initial: 'generic',
      options: [
        { value: 'generic', label: 'Generic JSON' },
        { value: 'slack', label: 'Slack' },
        { value: 'mattermost', label: 'Mattermost' },
        { value: 'matrix', label: 'Matrix (hookshot)' },
        { value: 'pushover', label: 'Pushover' },
        { value: 'home_assistant', label: 'Home Assistant' },
      ],
    },
    { key: 'url', label: 'URL', type: 'secret', url: true, required: true, placeholder: 'https://example.com/hook', hint: 'Kept secret: URLs often carry a token.' },
    {
      key: 'method',
      label: 'Method',
      type: 'select',
      initial: 'post',
      options: [
        { value: 'post', label: 'POST' },
        { value: 'put', label: 'PUT' },
      ],
    },
    { key: 'headers', label: 'Headers', type: 'headers', clearAs: [], hint: 'Kept secret as a whole: they often carry tokens.' },
    {
      key: 'body',
      label: 'Body template',
      type: 'textarea',
      placeholder: 'empty: the preset’s body. JSON with {{title}}, {{body}}, {{severity}}, …',
    },
    { key: 'secret', label: 'HMAC secret', type: 'secret', placeholder: 'optional: signs the body (HMAC-SHA256)', clearAs: null },
  ],
};

export function shown(f: Field, v: Values): boolean {
  return !f.when || f.when(v);
}

/** The form's values for a new channel, or for an existing channel's (masked) config. */
export function initialValues(kind: ChannelKind, config: Record<string, unknown> | null): Values {
  const v: Values = {};
  for (const f of FIELDS[kind]) {
    const x = config?.[f.key];
    if (f.type === 'bool') v[f.key] = config ? x === true : f.initial === true;
    else if (f.type === 'headers') v[f.key] = Array.isArray(x) ? (x as Header[]).map((h) => ({ name: h.name, value: h.value })) : [];
    // A masked secret starts empty: the input says it is set, and stays empty to keep it.
    else if (f.type === 'secret') v[f.key] = '';
    else if (f.type === 'list') v[f.key] = Array.isArray(x) ? x.join('\n') : '';
    else if (x === undefined || x === null) v[f.key] = config && f.type !== 'select' ? '' : String(f.initial ?? '');
    else v[f.key] = String(x);
  }
  return v;
}

/** The keys of the secrets the server holds for this channel (they came back masked). */
export function storedSecrets(config: Record<string, unknown> | null): Set<string> {
  return new Set(Object.entries(config ?? {}).filter(([, x]) => x === MASK).map(([k]) => k));
}

const HTTP = /^https?:\/\/\S+$/;

/**
 * The config to send, or the first problem. `base` is the server's config (unknown keys a newer
 * server added are kept as they are); `stored` the secrets it holds, `cleared` those the admin removes.
 */
export function buildConfig(
  kind: ChannelKind,
  v: Values,
  base: Record<string, unknown> | null,
  stored: Set<string>,
  cleared: Set<string>,
): { config: Record<string, unknown> } | { error: string } {
  const out: Record<string, unknown> = { ...(base ?? {}), kind };
  for (const f of FIELDS[kind]) {
    const on = shown(f, v);
    const x = v[f.key];
    if (f.type === 'bool') {
      out[f.key] = x === true;
      continue;
    }
    if (f.type === 'headers') {
      if (stored.has(f.key) && !cleared.has(f.key)) out[f.key] = MASK;
      else {
        const list = (x as Header[]).map((h) => ({ name: h.name.trim(), value: h.value })).filter((h) => h.name || h.value);
        const bad = list.find((h) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.name));
        if (bad) return { error: `${f.label}: “${bad.name}” is not a valid header name` };
        out[f.key] = list;
      }
      continue;
    }
    const s = typeof x === 'string' ? x.trim() : typeof x === 'number' && Number.isFinite(x) ? String(x) : '';
    if (f.type === 'secret') {
      if (s) out[f.key] = s;
      else if (stored.has(f.key) && !cleared.has(f.key)) out[f.key] = MASK;
      else if (f.required && on) return { error: `${f.label} is required` };
      else if (stored.has(f.key) && f.clearAs !== undefined) out[f.key] = f.clearAs;
      else delete out[f.key];
      if (s && f.url && !HTTP.test(s)) return { error: `${f.label}: must start with http:// or https://` };
      continue;
    }
    if (!s) {
      if (f.required && on) return { error: `${f.label} is required` };
      delete out[f.key];
      continue;
    }
    if (f.type === 'url' && !HTTP.test(s)) return { error: `${f.label}: must start with http:// or https://` };
    if (f.type === 'int') {
      const n = Number(s);
      if (!Number.isInteger(n) || (f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
        return { error: `${f.label}: a whole number${f.min !== undefined && f.max !== undefined ? ` from ${f.min} to ${f.max}` : ''}` };
      }
      out[f.key] = n;
    } else if (f.type === 'list') {
      const items = s.split(/[\n,;]+/).map((t) => t.trim()).filter(Boolean);
      if (f.required && items.length === 0) return { error: `${f.label} is required` };
      out[f.key] = items;
    } else {
      out[f.key] = s;
    }
  }
  return { config: out };
}

// ---------------------------------------------------------------------------------------------
// Routing (per channel).

/** The server's `Routing::default()`. */
export function defaultRouting(): NotifyRouting {
  return {
    min_severity: 'info',
    groups: {},
    events: {},
    detail: 'full',
    language: 'en',
    quiet: null,
    digest: null,
    rate_per_minute: 20,
    ai: 'off',
    ai_language: 'English',
    ai_instruction: '',
  };
}

export const MAX_INSTRUCTION = 500;

/** The routing's scalar parts as form values (the toggles stay in the routing object). */
export interface RoutingDraft {
  min_severity: NotifyRouting['min_severity'];
  detail: NotifyRouting['detail'];
  language: string;
  rate: string;
  quietOn: boolean;
  quietStart: string;
  quietEnd: string;
  digestOn: boolean;
  digest: string;
  ai: NotifyRouting['ai'];
  ai_language: string;
  ai_instruction: string;
}

export function routingDraft(r: NotifyRouting): RoutingDraft {
  return {
    min_severity: r.min_severity,
    detail: r.detail,
    language: r.language,
    rate: String(r.rate_per_minute),
    quietOn: r.quiet !== null,
    quietStart: r.quiet?.start ?? '22:00',
    quietEnd: r.quiet?.end ?? '07:00',
    digestOn: r.digest !== null,
    digest: r.digest ?? '08:00',
    ai: r.ai,
    ai_language: r.ai_language,
    ai_instruction: r.ai_instruction,
  };
}

/** The routing to send (the toggles from `base`), or the first problem. */
export function routingFromDraft(d: RoutingDraft, base: NotifyRouting): { routing: NotifyRouting } | { error: string } {
  const rate = Number(d.rate);
  if (!Number.isInteger(rate) || rate < 1 || rate > 600) return { error: 'Rate: a whole number of messages a minute, 1 to 600' };
  if (d.quietOn) {
    if (!isHHMM(d.quietStart)) return { error: `Quiet hours start: “${d.quietStart}” is not HH:MM` };
    if (!isHHMM(d.quietEnd)) return { error: `Quiet hours end: “${d.quietEnd}” is not HH:MM` };
    if (minutes(d.quietStart) === minutes(d.quietEnd)) return { error: 'Quiet hours: start and end are the same time' };
  }
  if (d.digestOn && !isHHMM(d.digest)) return { error: `Digest time: “${d.digest}” is not HH:MM` };
  const lang = d.ai_language.trim();
  if (!lang || lang.length > 40) return { error: 'AI language: 1 to 40 characters' };
  if ([...d.ai_instruction].length > MAX_INSTRUCTION) return { error: `AI instruction: at most ${MAX_INSTRUCTION} characters` };
  return {
    routing: {
      ...base,
      min_severity: d.min_severity,
      detail: d.detail,
      language: d.language,
      rate_per_minute: rate,
      quiet: d.quietOn ? { start: hhmm(d.quietStart), end: hhmm(d.quietEnd) } : null,
      digest: d.digestOn ? hhmm(d.digest) : null,
      ai: d.ai,
      ai_language: lang,
      ai_instruction: d.ai_instruction,
    },
  };
}

function minutes(s: string): number {
  const [h, m] = s.trim().split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** `7:5` → `07:05`. */
function hhmm(s: string): string {
  const [h, m] = s.trim().split(':');
  return `${(h ?? '').padStart(2, '0')}:${(m ?? '').padStart(2, '0')}`;
}
