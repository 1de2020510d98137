// One browser terminal session: an xterm.js Terminal bound to a WebSocket on
// /api/terminal/ws. Protocol (fixed with the backend):
//   client -> server  binary frames: input bytes; text: {"type":"resize","cols":C,"rows":R}
//   server -> client  binary frames: output bytes; text: {"type":"exit","code":N}, then close 1000
//   close codes       4000 idle timeout, 4001 login lost its authority, 1009 message too big
// Each connection needs a fresh single-use ticket from POST /api/terminal/ticket.

import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { errorText, postJSON, url } from './api';

export type SessionState = 'connecting' | 'open' | 'closed';

export interface SessionEvents {
  state(state: SessionState, reason: string | null): void;
  title(title: string): void;
  /** The terminal's size in characters (after every fit that changed it). */
  size(cols: number, rows: number): void;
  /** Turns typed input into what is sent (applies the key bar's sticky modifiers). */
  input(data: string): string;
}

// The dark palette of app.css (--terminal-bg, --dark-*) plus the bright ANSI colours; keep the two in step.
const THEME = {
  background: '#111418',
  foreground: '#dfe4ea',
  cursor: '#5ea2f0',
  cursorAccent: '#111418',
  selectionBackground: '#35506f',
  black: '#1c2027',
  red: '#ef5b5b',
  green: '#3fb872',
  yellow: '#e0a32e',
  blue: '#5ea2f0',
  magenta: '#b18af0',
  cyan: '#3cc2b0',
  white: '#dfe4ea',
  brightBlack: '#5f6b7c',
  brightRed: '#ff7b7b',
  brightGreen: '#5fd08f',
  brightYellow: '#f0c05a',
  brightBlue: '#8cbdf5',
  brightMagenta: '#caa8f5',
  brightCyan: '#6ad8c8',
  brightWhite: '#ffffff',
};

export interface Exit {
  code: number;
  signal: string | null;
}

export function closeReason(code: number, exit: Exit | null, reason: string): string {
  if (exit !== null) {
    if (exit.signal) return `The shell was ended by ${exit.signal}.`;
    return exit.code === 0 ? 'The shell exited.' : `The shell exited with code ${exit.code}.`;
  }
  switch (code) {
    case 1000:
      return reason ? `Closed: ${reason}` : 'The session ended.';
    case 4000:
      return 'Closed after being idle too long.';
    case 4001:
      return 'Closed: your login ended or lost the admin role. Log in again to open a terminal.';
    case 1009:
      return 'Closed: a message was too big for the server.';
    case 1006:
      return 'Connection lost.';
    case 1001:
      return 'The server is going away (restarting?).';
    case 1008:
      return `Refused by the server${reason ? `: ${reason}` : ''}.`;
    default:
      return `Connection closed (code ${code}${reason ? `: ${reason}` : ''}).`;
  }
}

export class TermSession {
  readonly term: Terminal;
  private readonly fitter = new FitAddon();
  private ws: WebSocket | null = null;
  private exit: Exit | null = null;
  private readonly enc = new TextEncoder();
  private disposed = false;

  constructor(
    readonly el: HTMLElement,
    private readonly on: SessionEvents,
  ) {
    const narrow = window.matchMedia('(max-width: 640px)').matches;
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      fontSize: narrow ? 12 : 13,
      scrollback: 5000,
      theme: THEME,
      allowProposedApi: false,
    });
    this.term.loadAddon(this.fitter);
    this.term.open(el);
    this.term.onData((d) => this.send(this.on.input(d)));
    this.term.onBinary((d) => {
      // Raw bytes (some mouse reports): one char per byte.
      const bytes = Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff);
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes);
    });
    this.term.onResize(({ cols, rows }) => {
      this.sendResize(cols, rows);
      this.on.size(cols, rows);
    });
    this.term.onTitleChange((t) => this.on.title(t));
  }

  get applicationCursor(): boolean {
    return this.term.modes.applicationCursorKeysMode;
  }

  async connect(): Promise<void> {
    if (this.disposed) return;
    this.exit = null;
    this.on.state('connecting', null);
    let ticket: string;
    try {
      ({ ticket } = await postJSON<{ ticket: string }>('/api/terminal/ticket'));
    } catch (e) {
      this.on.state('closed', `Could not start a session: ${errorText(e)}`);
      return;
    }
    if (this.disposed) return;
    // Same place as the rest of the API (under the base path, if any), as ws: or wss:.
    const wsUrl = new URL(url('/api/terminal/ws'));
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    // The initial size rides along so the shell starts at the right size (a resize follows anyway).
    this.fit();
    wsUrl.search = new URLSearchParams({ ticket, cols: String(this.term.cols), rows: String(this.term.rows) }).toString();
    const ws = new WebSocket(wsUrl.href);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.on.state('open', null);
      this.fit();
      this.sendResize(this.term.cols, this.term.rows);
      this.term.focus();
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') {
        this.term.write(new Uint8Array(ev.data));
        return;
      }
      try {
        const msg = JSON.parse(ev.data) as { type?: string; code?: unknown; signal?: unknown };
        if (msg.type === 'exit') {
          this.exit = {
            code: typeof msg.code === 'number' ? msg.code : 0,
            signal: typeof msg.signal === 'string' ? msg.signal : null,
          };
        }
      } catch {
        // Unknown text frame: ignore.
      }
    };
    let opened = false;
    ws.addEventListener('open', () => (opened = true));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!opened && ev.code === 1006 && !this.disposed) {
        // Refused before the upgrade (bad or expired ticket, a proxy without websockets).
        this.on.state('closed', 'Could not connect (the server refused the websocket).');
        return;
      }
      const why = closeReason(ev.code, this.exit, ev.reason);
      if (!this.disposed) {
        this.term.write(`\r\n\x1b[2m[${why}]\x1b[0m\r\n`);
        this.on.state('closed', why);
      }
    };
  }

  send(data: string): void {
    if (data && this.ws?.readyState === WebSocket.OPEN) this.ws.send(this.enc.encode(data));
  }

  private sendResize(cols: number, rows: number): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  /** Fits the terminal to its element (no-op while hidden). */
  fit(): void {
    if (this.disposed || this.el.offsetParent === null) return;
    try {
      this.fitter.fit();
    } catch {
      // Not rendered yet.
    }
  }

  focus(): void {
    this.term.focus();
  }

  dispose(): void {
    this.disposed = true;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'tab closed');
    this.term.dispose();
  }
}

/** Ctrl+<key> as a control character, or null when there is none. */
export function ctrlChar(ch: string): string | null {
  if (ch.length !== 1) return null;
  const c = ch.charCodeAt(0);
  if ((c >= 0x40 && c <= 0x5f) || (c >= 0x60 && c <= 0x7d)) return String.fromCharCode(c & 0x1f);
  const map: Record<string, string> = {
    ' ': '\x00',
    '2': '\x00',
    '3': '\x1b',
    '4': '\x1c',
    '5': '\x1d',
    '6': '\x1e',
    '7': '\x1f',
    '/': '\x1f',
    '-': '\x1f',
    '8': '\x7f',
    '?': '\x7f',
  };
  return map[ch] ?? null;
}

/** An arrow key (A up, B down, C right, D left) with the given modifiers. */
export function arrow(dir: 'A' | 'B' | 'C' | 'D', appCursor: boolean, ctrl: boolean, alt: boolean): string {
  const mod = 1 + (alt ? 2 : 0) + (ctrl ? 4 : 0);
  if (mod > 1) return `\x1b[1;${mod}${dir}`;
  return appCursor ? `\x1bO${dir}` : `\x1b[${dir}`;
}
