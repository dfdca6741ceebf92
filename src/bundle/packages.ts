import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { RESOLVE_PY } from './dnf-resolve.js';

/** One package of the resolved transaction. */
export interface ResolvedPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  repo: string;
  location: string;
  url: string;
  checksumType: string;
  checksum: string;
  size: number;
}

export interface SourceRepo { id: string; baseurl: string; cost?: number; proxy?: string }

/** The Debian tools the bundle runs, each with the package that brings it. */
const TOOLS: [cmd: string[], pkg: string, why: string][] = [
  [['/usr/bin/python3', '-c', 'import dnf, hawkey'], 'dnf', 'the dependency solver (dnf with its python3-dnf API)'],
  [['createrepo_c', '--version'], 'createrepo-c', 'the repository metadata CentOS 7 yum reads'],
  [['rpm2cpio', '/dev/null'], 'rpm', 'unpacking kubeadm to ask it for its image list'],
  [['rpmkeys', '--version'], 'rpm', "checking kubeadm's signature before running it"],
  [['cpio', '--version'], 'cpio', 'unpacking kubeadm to ask it for its image list'],
];

/** One line naming every missing tool and the Debian package to install. */
export function checkTools(): void {
  const missing: string[] = [];
  for (const [cmd, pkg, why] of TOOLS) {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore', cwd: '/' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') missing.push(`${cmd[0]} (${why}; Debian package ${pkg})`);
    else if (cmd[0] === '/usr/bin/python3' && r.status !== 0) missing.push(`python3's dnf module (${why}; Debian package ${pkg})`);
  }
  if (missing.length) throw new UserError(`bundle needs ${missing.join(', ')}: apt-get install ${[...new Set(missing.map((m) => /Debian package ([a-z0-9-]+)/.exec(m)![1]))].join(' ')}`);
}

/** This machine's proxy variables, for dnf's libcurl (a farm's build host often reaches the mirrors only through one). */
export const PROXY_VARS = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'all_proxy', 'ALL_PROXY'];
function proxyEnv(): Record<string, string> {
  return Object.fromEntries(PROXY_VARS.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
}

/**
 * Resolves the pinned set as one transaction with dnf, isolated in `work` (config, repos dir, cache
 * and an empty install root of its own). Throws the solver's own words when a package is missing or
 * a dependency cannot be met.
 */
export async function resolvePackages(work: string, repos: SourceRepo[], packages: string[]): Promise<ResolvedPackage[]> {
  const dirs = { reposdir: join(work, 'repos.d'), root: join(work, 'root'), cache: join(work, 'cache') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const input = JSON.stringify({ ...dirs, repos, packages });
  const child = spawn('/usr/bin/python3', ['-c', RESOLVE_PY], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: work, ...proxyEnv() } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(input);
  const code: number = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  if (code !== 0) {
    const why = err.trim().split('\n').filter((l) => !/^(Failed to set locale|warning:)/.test(l)).slice(-3).join('; ');
    throw new UserError(`bundle: the package set cannot be resolved from ${repos.map((r) => r.id).join(', ')}: ${why || `dnf exited ${code}`}`);
  }
  return JSON.parse(out) as ResolvedPackage[];
}

/** `kubeadm-1.17.4-0.x86_64`. */
export const nevra = (p: ResolvedPackage) => `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;

/**
 * createrepo_c with what CentOS 7's yum 3 reads: sha256 checksums, gzip for the XML and for the
 * sqlite databases too (never zstd or xz): createrepo_c 0.17.3 applies --general-compress-type gz
 * to the databases, so they are *.sqlite.gz and --compress-type bz2 changes nothing (yum picks the
 * decompressor by the file name repomd.xml gives); the databases included, no timestamps of this
 * run in the package entries' order.
 */
export function createRepo(dir: string, revision: number): void {
  const r = spawnSync('createrepo_c', ['--quiet', '--database', '--checksum', 'sha256', '--general-compress-type', 'gz', '--compress-type', 'bz2', '--unique-md-filenames', '--revision', String(revision), '--set-timestamp-to-revision', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new UserError(`bundle: createrepo_c failed in ${dir}: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').pop()}`);
}
