// Shapes of /api/agents (issue 19: Docker containers inside the guests, reported by a push agent)
// and the helpers the Containers page and the guest page share.

// The shapes the backend serializes, generated from the Rust types (gen/).
import type { Container } from './gen/Container';
import type { DockerAgent } from './gen/DockerAgent';
import type { DockerAgents } from './gen/DockerAgents';
import type { MappedBy } from './gen/MappedBy';
import type { NewDockerAgent } from './gen/NewDockerAgent';
export type { Container, DockerAgent, MappedBy };
export type { ContainerMount } from './gen/ContainerMount';
export type { ContainerCounts } from './gen/ContainerCounts';
export type { AgentInfo } from './gen/AgentInfo';
export type { DockerAgentDetail } from './gen/DockerAgentDetail';
export type { ContainerChange } from './gen/ContainerChange';

/** GET /api/agents: every agent and the most allowed. */
export type AgentList = DockerAgents;

/** POST /api/agents: the token and the install command are shown this once. */
export type AgentCreated = NewDockerAgent;

// ---- Helpers ----

export type Filter = 'all' | 'unhealthy' | 'restarting' | 'exited';

export const FILTERS: { key: Filter; label: string }[] = [
  { key: 'all', label: 'All' },
  { key: 'unhealthy', label: 'Unhealthy' },
  { key: 'restarting', label: 'Restarting' },
  { key: 'exited', label: 'Exited' },
];

/** Whether a container passes a filter (the same rules as the server's counts). */
export function matches(c: Container, f: Filter): boolean {
  switch (f) {
    case 'unhealthy':
      return c.health === 'unhealthy';
    case 'restarting':
      return c.state === 'restarting';
    case 'exited':
      return c.state === 'exited' || c.state === 'dead';
    default:
      return true;
  }
}

/** The colour class of a container's state. */
export function stateClass(c: Pick<Container, 'state' | 'exit_code'>): string {
  switch (c.state) {
    case 'running':
      return 'ok';
    case 'restarting':
    case 'paused':
      return 'warn';
    case 'dead':
      return 'crit';
    case 'exited':
      return c.exit_code != null && c.exit_code !== 0 ? 'crit' : '';
    default:
      return '';
  }
}

/** The colour class of a healthcheck's verdict. */
export function healthClass(h: string | null): string {
  return h === 'healthy' ? 'ok' : h === 'unhealthy' ? 'crit' : h === 'starting' ? 'warn' : '';
}

/** How the agent was linked to its guest, in words. */
export function mappedText(m: MappedBy | null): string {
  switch (m) {
    case 'declared':
      return 'declared by the agent';
    case 'ip':
      return 'matched by IP address';
    case 'mac':
      return 'matched by MAC address';
    default:
      return '';
  }
}

/** The agent's guest: `VM 101 (docker01)`. */
export function guestText(a: Pick<DockerAgent, 'vmid' | 'guest_name'>): string | null {
  if (a.vmid == null) return null;
  return a.guest_name ? `VM ${a.vmid} (${a.guest_name})` : `VM ${a.vmid}`;
}

/** The agent's documentation (docs/docker-agent.md in the repository). */
export const AGENT_DOCS = 'https://github.com/proxwatch/proxwatch/blob/main/docs/docker-agent.md';
