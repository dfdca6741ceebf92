/**
 * One row per node of the farm, as the status page, /status.json and `k8s-image status` show it.
 */
import { STAGE_TEXT, type Stage } from './protocol.js';
import type { NodeStatus } from './store.js';

export interface FarmNode {
  name: string;
  role: string;
  ip: string;
  mac?: string;
}

export interface StatusRow {
  name: string;
  role: string;
  ip: string;
  mac: string;
  /** null: never reported. */
  stage: Stage | null;
  stageText: string;
  since: number | null;
  lastReport: number | null;
  lastIp: string | null;
  failedAt: number | null;
  hasFailureLog: boolean;
  /** The node's clock minus the server's at its last report (seconds); null: unknown. */
  clockOffset: number | null;
}

export interface StatusDocument {
  cluster: string;
  now: number;
  counts: Record<string, number>;
  nodes: StatusRow[];
  /** serve --max-installing: how many nodes install now, at most, and wait (absent: no limit). */
  admission?: { max: number; installing: number; waiting: number; retrySeconds: number; admitted: number; waited: number; longestWaitSeconds: number };
}

export function rowOf(n: FarmNode, s: NodeStatus | undefined): StatusRow {
  return {
    name: n.name,
    role: n.role,
    ip: n.ip,
    mac: n.mac ?? '',
    stage: s?.stage ?? null,
    stageText: s ? STAGE_TEXT[s.stage] : 'no report yet',
    since: s?.since ?? null,
    lastReport: s?.lastReport ?? null,
    lastIp: s?.lastIp ?? null,
    failedAt: s?.failedAt ?? null,
    hasFailureLog: s?.failureLog !== undefined,
    clockOffset: s?.clockOffset ?? null,
  };
}

export function statusDocument(cluster: string, nodes: FarmNode[], get: (name: string) => NodeStatus | undefined, now: number): StatusDocument {
  const rows = nodes.map((n) => rowOf(n, get(n.name)));
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.stage ?? 'none'] = (counts[r.stage ?? 'none'] ?? 0) + 1;
  return { cluster, now, counts, nodes: rows };
}

/** 75s, 12m, 3h04m, 2d05h: short enough for a table column. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A node's clock against the server's, for people: "in step", "3h04m behind", "2d05h ahead". */
export function clockOffsetText(seconds: number): string {
  const a = Math.abs(seconds);
  if (a < 120) return 'in step';
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const t = h >= 48 ? `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h` : h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m`;
  return `${t} ${seconds < 0 ? 'behind' : 'ahead'}`;
}
