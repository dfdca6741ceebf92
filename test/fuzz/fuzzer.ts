/**
 * A deterministic config fuzzer: mutated cluster.yaml texts (wrong types, ranges, unicode, huge
 * lists, duplicate keys, deep nesting, binary junk, every shell/kickstart/YAML/systemd metacharacter
 * in every string field) and the invariant every run must keep: the config is refused with problems
 * that each name a field, or it is accepted and every artifact is well-formed for its reader. Used by
 * fuzz.test.ts (bounded) and bench/fuzz.ts (as long as you like). Not a test file itself.
 */
import yaml from 'js-yaml';
import { defaultClusterYaml, haClusterYaml, loadCluster, type Cluster } from '../../src/config/index.js';
import { UserError, problemObject } from '../../src/errors.js';
import { planNode } from '../../src/plan/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { checkKickstart } from '../helpers/readers.js';

/** mulberry32: small, seedable, good enough to pick mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const HOSTILE = [
  '$(reboot)', '`id`', '; rm -rf /', '&& halt', '| nc x 1', "'", '"', '\\', '\n', '\r\n', '%post', '\n%post\nreboot\n%end\n', '%{x}', '%7E', '%%',
  '{{x}}', '{{{x}}}', '---', ': x', '- x', '#c', '!!python/object', '*alias', '&anchor', '\u0000', '\u202e', '\ufeff', 'ü', '日本', '🙂', ' ', '\t',
  '$HOME', '${IFS}', '>/etc/passwd', '<x', '(x)', '[x]', '{a: 1}', '..', '../../etc', '/etc/shadow', 'K8S_IMAGE_EOF', 'EOF', '-', '--help', '=',
];

const SCALARS: unknown[] = [0, -1, 1, 2, 65536, 1e21, 3.5, NaN, true, false, null, '', 'x'.repeat(300), '1.17.4', '10.0.0.1', '10.0.0.1/33', '0', '24h', [], {}, [1, 2], { a: { b: { c: {} } } }];

type Path = (string | number)[];

/** Every path to a scalar (or empty container) in a document. */
function leaves(v: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v)) leaves(child, [...path, Array.isArray(v) ? Number(k) : k], out);
  } else out.push(path);
  return out;
}

function setAt(doc: any, path: Path, value: unknown): void {
  let cur = doc;
  for (const p of path.slice(0, -1)) cur = cur[p];
  cur[path.at(-1)!] = value;
}

function getAt(doc: any, path: Path): unknown {
  let cur = doc;
  for (const p of path) cur = cur?.[p];
  return cur;
}

/** One mutated config text. */
export function mutate(r: () => number): { text: string; what: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const base = r() < 0.7 ? defaultClusterYaml() : haClusterYaml();
  const doc = yaml.load(base) as any;
  const paths = leaves(doc);
  const kind = r();
  if (kind < 0.08) {
    // Binary junk or a truncated file.
    if (r() < 0.5) return { text: Buffer.from(Array.from({ length: 1 + Math.floor(r() * 400) }, () => Math.floor(r() * 256))).toString('latin1'), what: 'binary junk' };
    return { text: base.slice(0, Math.floor(r() * base.length)), what: 'truncated' };
  }
  if (kind < 0.13) {
    // A duplicate key, at the top or inside a node.
    const lines = base.split('\n');
    const i = lines.findIndex((l) => /^(cluster|os|network|bootstrap):/.test(l));
    lines.splice(i, 0, `${lines[i]!.split(':')[0]}: {}`);
    return { text: lines.join('\n'), what: 'duplicate key' };
  }
  if (kind < 0.17) {
    // Deep nesting or a huge list.
    if (r() < 0.5) {
      let deep: unknown = 'x';
      for (let i = 0; i < 200 + Math.floor(r() * 2000); i++) deep = [deep];
      setAt(doc, pick(paths), deep);
      return { text: yaml.dump(doc, { lineWidth: -1 }), what: 'deep nesting' };
    }
    const n = 500 + Math.floor(r() * 3000);
    const list = r() < 0.5 ? Array.from({ length: n }, (_, i) => ({ ...doc.nodes[1 % doc.nodes.length], name: `n${i}`, ip: `10.9.${Math.floor(i / 250)}.${1 + (i % 250)}` })) : Array.from({ length: n }, () => 'x');
    const target = pick([['nodes'], ['os', 'ntpServers'], ['mirrors', 'registryMirrors'], ['os', 'sshAuthorizedKeys']] as Path[]);
    if (getAt(doc, target.slice(0, -1)) === undefined) setAt(doc, target.slice(0, -1), {});
    setAt(doc, target, list);
    return { text: yaml.dump(doc, { lineWidth: -1 }), what: `huge list at ${target.join('.')}` };
  }
  if (kind < 0.4) {
    // Valid changes only: the configs a user really writes, which must build.
    const whats: string[] = [];
    for (let m = 0; m < 1 + Math.floor(r() * 4); m++) {
      const [what, apply] = pick(BENIGN);
      apply(doc, r);
      whats.push(what);
    }
    return { text: yaml.dump(doc, { lineWidth: -1 }), what: `valid: ${whats.join(', ')}` };
  }
  // Field-level mutations, one to three of them.
  const whats: string[] = [];
  for (let m = 0; m < 1 + Math.floor(r() * 3); m++) {
    const path = pick(leaves(doc));
    const old = getAt(doc, path);
    const k = r();
    let value: unknown;
    if (k < 0.45) value = typeof old === 'string' && r() < 0.6 ? insertAt(old, pick(HOSTILE), r) : pick(HOSTILE);
    else if (k < 0.8) value = pick(SCALARS);
    else if (k < 0.9 && typeof old === 'string') value = old.toUpperCase();
    else {
      // An unknown key beside the leaf.
      const parent = getAt(doc, path.slice(0, -1));
      if (parent && typeof parent === 'object' && !Array.isArray(parent)) (parent as Record<string, unknown>)[`${String(path.at(-1))}x`] = 1;
      whats.push(`unknown key near ${path.join('.')}`);
      continue;
    }
    setAt(doc, path, value);
    whats.push(`${path.join('.')} = ${JSON.stringify(value)?.slice(0, 40)}`);
  }
  return { text: yaml.dump(doc, { lineWidth: -1 }), what: whats.join('; ') };
}

type Doc = any;
const BENIGN: [string, (d: Doc, r: () => number) => void][] = [
  ['version 1.22.17 containerd', (d) => { d.cluster.kubernetesVersion = '1.22.17'; d.cluster.runtime = { kind: 'containerd' }; }],
  ['version 1.28.15', (d) => { d.cluster.kubernetesVersion = '1.28.15'; d.cluster.runtime = { kind: 'containerd' }; }],
  ['version 1.20.15', (d) => { d.cluster.kubernetesVersion = '1.20.15'; delete d.cluster.runtime?.version; }],
  ['iptables', (d) => { d.cluster.kubeProxyMode = 'iptables'; }],
  ['firewall open', (d) => { d.os.firewall = 'open'; }],
  ['selinux permissive', (d) => { d.os.selinux = 'permissive'; }],
  ['timezone', (d, r) => { d.os.timezone = ['CET', 'Asia/Shanghai', 'Europe/Berlin', 'Etc/GMT+5'][Math.floor(r() * 4)]; }],
  ['tokenTTL 0', (d) => { (d.bootstrap ??= {}).tokenTTL = 0; }],
  ['tokenTTL 12h', (d) => { (d.bootstrap ??= {}).tokenTTL = '12h'; }],
  ['proxy with a password', (d) => { d.proxy = { http: 'http://ops:p%40ss@proxy.example.com:3128/%7Eops', https: 'http://proxy.example.com:3128', noProxy: ['.corp.example.com', '10.0.0.0/8'] }; }],
  ['registry mirror', (d) => { (d.mirrors ??= {}).registryMirrors = ['https://abc.mirror.aliyuncs.com']; d.mirrors.insecureRegistries = ['registry.local:5000']; }],
  ['cni registry', (d) => { (d.mirrors ??= {}).cniImageRegistry = 'harbor.example.com/dockerhub'; }],
  ['macs', (d, r) => { d.nodes.forEach((n: Doc, i: number) => { n.mac = `00:50:56:3f:${Math.floor(r() * 256).toString(16).padStart(2, '0')}:${i.toString(16).padStart(2, '0')}`; }); }],
  ['interface eth0', (d) => { (d.network ??= {}).interface = 'eth0'; }],
  ['no interface', (d) => { if (d.network) delete d.network.interface; }],
  ['disk vda', (d) => { d.nodes[0].disk = 'vda'; }],
  ['generation', (d) => { d.nodes[d.nodes.length - 1].generation = 7; }],
  ['ssh key', (d) => { d.os.sshAuthorizedKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmU1wGgZt6bq2NwD7fEW1V0gB7xYp7yX3CjQm5W9kLz ops@laptop']; }],
  ['ntp ip', (d) => { d.os.ntpServers = ['10.0.0.1', 'ntp.example.com']; }],
  ['search domain', (d) => { (d.network ??= {}).searchDomain = 'lab.example.com'; }],
  ['cluster name', (d) => { d.cluster.name = 'prod-eu1'; }],
  ['another worker', (d) => { const w = d.nodes.find((n: Doc) => n.role === 'node'); d.nodes.push({ ...w, name: 'extra9', ip: w.ip.replace(/\.\d+$/, '.199'), mac: undefined }); }],
  ['haproxy', (d) => { (d.loadBalancer ??= {}).kind = 'haproxy'; }],
];

function insertAt(s: string, piece: string, r: () => number): string {
  const i = Math.floor(r() * (s.length + 1));
  return s.slice(0, i) + piece + s.slice(i);
}

/** What a sourced env file may hold: KEY=word or KEY="words", nothing bash would expand or split. */
const ENV_LINE = /^(#.*|[A-Z_][A-Z0-9_]*=("[^"$`\\\n]*"|[^\s"'$`\\;&|<>(){}*?![\]#~]*))$/;

export interface Verdict {
  outcome: 'refused' | 'accepted';
  problems: string[];
  /** Violations of the invariant; empty means the run is fine. */
  violations: string[];
}

let secretsFor: Map<string, Promise<Secrets>> | undefined;
async function secretsOf(cluster: Cluster): Promise<Secrets> {
  secretsFor ??= new Map();
  if (!secretsFor.has(cluster.name)) secretsFor.set(cluster.name, generateSecrets({ cluster: cluster.name, generateRootPassword: true }));
  const s = await secretsFor.get(cluster.name)!;
  return { ...s, cluster: cluster.name };
}

/** Run one text through config, plan and the renderers, and check the invariant. */
export async function judge(text: string): Promise<Verdict> {
  let loaded;
  try {
    loaded = loadCluster(text, 'fuzz.yaml', { readFile: () => { throw Object.assign(new Error('no such file'), { code: 'ENOENT' }); } });
  } catch (e) {
    if (!(e instanceof UserError)) return { outcome: 'refused', problems: [], violations: [`not a UserError: ${(e as Error).stack ?? String(e)}`] };
    const violations = e.problems.filter((p) => !problemObject(p).path).map((p) => `a problem that names no field: ${p}`);
    if (e.problems.length === 0) violations.push('a UserError with no problem');
    return { outcome: 'refused', problems: e.problems, violations };
  }
  const violations: string[] = [];
  const cluster = loaded.cluster;
  const secrets = await secretsOf(cluster);
  // Large accepted farms: check a sample of nodes (every role), the per-node work is the same.
  const nodes = cluster.nodes.length > 12 ? [...cluster.nodes.slice(0, 8), ...cluster.nodes.slice(-4)] : cluster.nodes;
  for (const node of nodes) {
    try {
      const plan = planNode(cluster, secrets, node.name);
      const ks = Buffer.from(renderKickstart(plan).find((a) => a.path === 'ks.cfg')!.bytes).toString('utf8');
      for (const p of checkKickstart(ks)) violations.push(`${node.name} ks.cfg: ${p}`);
      for (const f of plan.files.filter((x) => x.path.endsWith('.env'))) {
        for (const line of f.content.split('\n').filter(Boolean)) if (!ENV_LINE.test(line)) violations.push(`${node.name} ${f.path}: unsafe line ${JSON.stringify(line)}`);
      }
      for (const f of plan.files.filter((x) => x.path.startsWith('/etc/systemd/'))) {
        if (/%[^%]/.test(f.content.replaceAll('%%', ''))) violations.push(`${node.name} ${f.path}: a raw % specifier`);
      }
      if (node.mac || node.interface) {
        for (const a of renderCloudInit(plan)) {
          try {
            yaml.load(Buffer.from(a.bytes).toString('utf8'));
          } catch (e) {
            violations.push(`${node.name} ${a.path}: not YAML: ${(e as Error).message}`);
          }
        }
      }
      if (node.role !== 'master' && plan.files.some((f) => f.content.includes('PRIVATE KEY'))) violations.push(`${node.name}: a private key on a non-master`);
    } catch (e) {
      violations.push(`${node.name}: ${(e as Error).stack ?? String(e)}`);
    }
  }
  return { outcome: 'accepted', problems: [], violations };
}
