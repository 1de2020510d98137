// The Settings → Integrations side of the notification engine: the AI provider's settings (as
// src/notify/ai.rs takes them, with the presets the form offers) and Proxmox VE's webhook setup (as
// src/api/pve_hook.rs answers it). Hand-written: the server generates no TypeScript for these.

import { MASK } from './notify.svelte';

export type AiProviderKind = 'openai' | 'anthropic' | 'gemini' | 'ollama';

export interface AiSettings {
  enabled: boolean;
  provider: { kind: AiProviderKind; base_url: string; model: string; api_key?: string | null };
  timeout_s: number;
  daily_cap: number;
  redact: boolean;
  max_tokens: number;
}

/** GET/PUT /api/notifications/ai. */
export interface AiView {
  settings: AiSettings;
  calls_today: number;
}

/** POST /api/notifications/ai/test. */
export type AiTestResult =
  | {
      ok: true;
      title: string;
      body: string;
      provider: string;
      model: string;
      latency_ms: number;
      tokens_in: number | null;
      tokens_out: number | null;
      redacted: boolean;
    }
  | { ok: false; error: string };

/** The base URL each kind uses when the settings leave it empty (ProviderKind::default_base_url). */
export const DEFAULT_BASE: Record<AiProviderKind, string> = {
  openai: 'https://api.openai.com',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  ollama: 'http://127.0.0.1:11434',
};

export interface AiPreset {
  id: string;
  label: string;
  kind: AiProviderKind;
  /** The base URL the preset fills in; empty: the kind's default (shown as the placeholder). */
  base: string;
  model: string;
  /** Whether the provider wants a key (a hint only; the server checks Anthropic's and Gemini's). */
  key: 'required' | 'usual' | 'none';
}

/** The "Provider" choices: the OpenAI-compatible ones are kind `openai` with their base URL. */
export const PRESETS: AiPreset[] = [
  { id: 'openai', label: 'OpenAI', kind: 'openai', base: '', model: 'gpt-4o-mini', key: 'usual' },
  { id: 'groq', label: 'Groq (OpenAI-compatible)', kind: 'openai', base: 'https://api.groq.com/openai', model: 'llama-3.1-8b-instant', key: 'usual' },
  { id: 'openrouter', label: 'OpenRouter (OpenAI-compatible)', kind: 'openai', base: 'https://openrouter.ai/api', model: 'openai/gpt-4o-mini', key: 'usual' },
  { id: 'lmstudio', label: 'LM Studio (OpenAI-compatible)', kind: 'openai', base: 'http://127.0.0.1:1234', model: 'the loaded model’s id', key: 'none' },
  { id: 'compatible', label: 'Other OpenAI-compatible API', kind: 'openai', base: '', model: 'the model’s id', key: 'usual' },
  { id: 'anthropic', label: 'Anthropic', kind: 'anthropic', base: '', model: 'claude-3-5-haiku-latest', key: 'required' },
  { id: 'gemini', label: 'Google Gemini', kind: 'gemini', base: '', model: 'gemini-2.5-flash', key: 'required' },
  { id: 'ollama', label: 'Ollama', kind: 'ollama', base: '', model: 'llama3.2', key: 'none' },
];

const trimUrl = (u: string): string => u.trim().replace(/\/+$/, '');

/** The preset a stored provider reads as. */
export function presetOf(kind: AiProviderKind, baseUrl: string): AiPreset {
  const base = trimUrl(baseUrl);
  if (kind === 'openai') {
    if (!base || base === DEFAULT_BASE.openai || base === `${DEFAULT_BASE.openai}/v1`) return PRESETS[0]!;
    return PRESETS.find((p) => p.kind === 'openai' && p.base && (base === p.base || base === `${p.base}/v1`)) ?? PRESETS.find((p) => p.id === 'compatible')!;
  }
  return PRESETS.find((p) => p.kind === kind)!;
}

/**
 * The AI form, as typed. The numbers start as strings; a number input's binding turns them into a
 * number (or null when emptied), so they are read through `text`.
 */
export interface AiDraft {
  enabled: boolean;
  preset: string;
  base_url: string;
  model: string;
  /** A new key as typed; empty keeps the stored one (unless `clearKey`). */
  api_key: string;
  clearKey: boolean;
  timeout_s: Typed;
  daily_cap: Typed;
  redact: boolean;
  max_tokens: Typed;
}

type Typed = string | number | null;

/** What a field holds, as text. */
const text = (v: Typed | undefined): string => (v == null ? '' : String(v)).trim();

/** Whether a draft differs from the stored settings' (numbers and their text alike). */
export function aiDirty(d: AiDraft, s: AiSettings): boolean {
  const a = aiDraft(s);
  return (Object.keys(a) as (keyof AiDraft)[]).some((k) => (typeof a[k] === 'boolean' ? a[k] !== d[k] : text(a[k] as Typed) !== text(d[k] as Typed)));
}

export function aiDraft(s: AiSettings): AiDraft {
  return {
    enabled: s.enabled,
    preset: presetOf(s.provider.kind, s.provider.base_url).id,
    base_url: s.provider.base_url,
    model: s.provider.model,
    api_key: '',
    clearKey: false,
    timeout_s: String(s.timeout_s),
    daily_cap: String(s.daily_cap),
    redact: s.redact,
    max_tokens: String(s.max_tokens),
  };
}

/** Whether the server holds a key (it comes back masked). */
export const keySet = (s: AiSettings | null | undefined): boolean => !!s?.provider.api_key;

function whole(v: Typed, label: string, min: number, max: number): number {
  const t = text(v);
  const n = Number(t);
  if (!t || !Number.isInteger(n) || n < min || n > max) throw new Error(`${label}: a whole number from ${min} to ${max}`);
  return n;
}

/**
 * The settings to PUT for a draft (the same checks as Settings::validate, so most mistakes are told
 * before a round trip). The key: a typed one replaces, "Remove" sends "" (clears), else the mask
 * (keeps). Throws an Error whose message names the field.
 */
export function aiPayload(d: AiDraft, stored: AiSettings): AiSettings {
  const preset = PRESETS.find((p) => p.id === d.preset) ?? PRESETS[0]!;
  const base = trimUrl(d.base_url);
  if (base && !/^https?:\/\/[^\s/]+/.test(base)) throw new Error('Base URL: must start with http:// or https://');
  const model = d.model.trim();
  const key = d.api_key.trim();
  const out: AiSettings = {
    enabled: d.enabled,
    provider: { kind: preset.kind, base_url: base, model },
    timeout_s: whole(d.timeout_s, 'Timeout', 1, 120),
    daily_cap: whole(d.daily_cap, 'Daily cap', 0, 1_000_000),
    redact: d.redact,
    max_tokens: whole(d.max_tokens, 'Max tokens', 16, 8192),
  };
  if (key) out.provider.api_key = key;
  else if (d.clearKey) out.provider.api_key = '';
  else if (keySet(stored)) out.provider.api_key = MASK;
  if (d.enabled) {
    if (!model) throw new Error('Model: required to turn AI rewriting on');
    const keyAfter = key !== '' || (!d.clearKey && keySet(stored));
    if (preset.key === 'required' && !keyAfter) throw new Error(`API key: ${preset.label} needs one`);
  }
  return out;
}

export type PveStepStatus = 'done' | 'already_exists' | 'failed' | 'skipped';

/** GET /api/notifications/pve. */
export interface PveView {
  url: string;
  received: number;
  last_received: number | null;
  setup: {
    url: string;
    public_cfg: string;
    private_cfg: string;
    commands: string[];
    body_template: string;
    notes: string[];
  };
}

/** POST /api/notifications/pve/install. */
export interface PveInstallReport {
  backup: string | null;
  steps: { command: string; status: PveStepStatus; output: string }[];
}
