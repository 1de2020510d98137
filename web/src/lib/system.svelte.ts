// /api/system, fetched once at start and refreshed now and then (identity
// barely changes). Shared by the shell (hostname) and the Overview header.

import { getJSON, errorText } from './api';
import { seedLatest } from './live.svelte';
import type { SystemInfo } from './types';

export const system = $state<{ info: SystemInfo | null; error: string | null; fetchedAt: number }>({
  info: null,
  error: null,
  fetchedAt: 0,
});

export async function loadSystem(): Promise<void> {
  try {
    const info = await getJSON<SystemInfo>('/api/system');
    system.info = info;
    system.error = null;
    system.fetchedAt = Date.now();
    if (info.vitals) seedLatest(info.vitals);
  } catch (e) {
    system.error = errorText(e);
  }
}

let timer: ReturnType<typeof setInterval> | undefined;

export function startSystem(): void {
  void loadSystem();
  clearInterval(timer);
  // Refresh every 5 minutes, and retry sooner while it has never loaded.
  timer = setInterval(() => {
    if (!system.info || Date.now() - system.fetchedAt > 300_000) void loadSystem();
  }, 10_000);
}

export function stopSystem(): void {
  clearInterval(timer);
  timer = undefined;
}
