import type { Output } from './common.js';
import { prose, table, terminalWidth } from './validate.js';
import {
  MAX_MINOR,
  MIN_MINOR,
  allMinorFacts,
  criSocket,
  defaultRuntime,
  defaultRuntimeVersion,
  runtimesFor,
  type MinorFacts,
} from '../versions/index.js';

export interface VersionsOptions { json?: boolean; all?: boolean }

export interface VersionRow {
  minor: string;
  supported: boolean;
  kubeadmApi: string;
  repo: 'el7' | 'pkgs';
  packageRelease: string;
  defaultRuntime: string;
  defaultRuntimeVersion: string;
  runtimes: string[];
  docker: string[];
  containerd: string[];
  criSocket: Record<string, string>;
  pause: string;
  kubernetesCni: string | null;
  criTools: string | null;
  flannel: string;
  flannelCniPlugin: string;
  calico: string;
  notes: string[];
}

function notes(f: MinorFacts): string[] {
  const n: string[] = [];
  if (f.minor === 18) n.push('ipvs needs 1.18.3+ on CentOS 7 (kubernetes#89520)');
  if (f.minor > MAX_MINOR) n.push('needs os.kernel: lt (kernel 3.10 fails kubeadm preflight)');
  if (f.minor >= 35) n.push('kubelet given failCgroupV1: false');
  if (!f.kubernetesCni) n.push('kubernetes-cni/cri-tools resolved by yum from the per-minor repo');
  return n;
}

export function versionRows(): VersionRow[] {
  return allMinorFacts().map((f) => {
    const v = `1.${f.minor}.0`;
    const runtimes = runtimesFor(v);
    const rt = defaultRuntime(v);
    return {
      minor: `1.${f.minor}`,
      supported: f.minor >= MIN_MINOR && f.minor <= MAX_MINOR,
      kubeadmApi: f.kubeadmApi,
      repo: f.repo,
      packageRelease: f.packageRelease,
      defaultRuntime: rt,
      defaultRuntimeVersion: defaultRuntimeVersion(rt, v),
      runtimes,
      docker: f.docker,
      containerd: f.containerd,
      criSocket: Object.fromEntries(runtimes.map((r) => [r, criSocket(r, v)])),
      pause: f.pause,
      kubernetesCni: f.kubernetesCni ?? null,
      criTools: f.criTools ?? null,
      flannel: f.flannel.version,
      flannelCniPlugin: f.flannel.cniPluginImage.split(':').pop()!,
      calico: f.calico,
      notes: notes(f),
    };
  });
}

/** Print the version matrix: supported minors by default, 1.32+ (opt-in only) with --all or --json. */
export async function versions(opts: VersionsOptions, out: Output): Promise<void> {
  const rows = versionRows();
  if (opts.json) {
    out.result(JSON.stringify({ supported: `1.${MIN_MINOR}-1.${MAX_MINOR}`, minors: rows }, null, 2));
    return;
  }
  const shown = opts.all ? rows : rows.filter((r) => r.supported);
  // Shown in this order; when the terminal is narrow, the highest `drop` goes first (MINOR never).
  const columns: [string, (r: VersionRow) => string, number][] = [
    ['MINOR', (r) => (r.supported ? r.minor : `${r.minor}*`), 0],
    ['KUBEADM API', (r) => r.kubeadmApi.replace('kubeadm.k8s.io/', ''), 2],
    ['REPO', (r) => `${r.repo} (-${r.packageRelease})`, 7],
    ['DEFAULT RUNTIME', (r) => `${r.defaultRuntime} ${r.defaultRuntimeVersion}`, 1],
    ['RUNTIMES', (r) => r.runtimes.join(','), 3],
    ['PAUSE', (r) => r.pause, 8],
    ['KUBERNETES-CNI', (r) => r.kubernetesCni ?? '(repo)', 9],
    ['CRI-TOOLS', (r) => r.criTools ?? '(repo)', 10],
    ['FLANNEL', (r) => `${r.flannel}/${r.flannelCniPlugin}`, 6],
    ['CALICO', (r) => r.calico, 4],
    ['NOTES', (r) => r.notes.join('; '), 5],
  ];
  const width = terminalWidth();
  let keep = columns.length;
  const chosen = (n: number) => columns.filter((c) => c[2] < n);
  const render = (n: number) => table(chosen(n).map((c) => c[0]), shown.map((r) => chosen(n).map((c) => c[1](r))), width);
  const fits = (text: string) => text.split('\n').every((l) => l.length <= width) && text.split('\n').length <= shown.length * 2 + 1;
  while (keep > 4 && !fits(render(keep))) keep--;
  const left = columns.filter((c) => c[2] >= keep).map((c) => c[0]);
  out.result(render(keep));
  if (left.length) out.result(prose(`(${left.join(', ')} left out to fit ${width} columns; --json has every fact)`, width));
  out.result(
    prose(opts.all
      ? `* needs the end-of-life kit on CentOS 7: os.kernel: lt (ELRepo kernel-lt; cgroup v1 only). Details: docs/versions.md`
      : `Supported on CentOS 7: 1.${MIN_MINOR}.x to 1.${MAX_MINOR}.x (--all also lists 1.${MAX_MINOR + 1}+, --json every fact). Details: docs/versions.md`, width),
  );
}
