/**
 * Sandbox for running node-files/*.sh for real: a temp root, fake system commands on PATH that log
 * their argv and behave by env knobs, an env file pointing every path into the root, and a
 * loopback HTTPS /healthz stub with its own CA (made with the openssl CLI). Not a test file itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { firstbootScript } from '../../src/plan/node-scripts.js';
import { tempDir } from '../helpers/tmp.js';

export const nodeFiles = join(packageRoot, 'node-files');
/**
 * A node script's path. First boot is assembled from node-files/firstboot/ exactly as the plan ships
 * it, into a file of its own (written once per process), so tests run the bytes a node runs.
 */
export const script = (name: string): string => (name === 'firstboot.sh' ? assembledFirstboot() : join(nodeFiles, name));
let firstbootPath: string | undefined;
function assembledFirstboot(): string {
  if (firstbootPath === undefined) {
    const path = join(tempDir('k8s-image-firstboot-'), 'firstboot.sh');
    writeFileSync(path, firstbootScript(), { mode: 0o755 });
    firstbootPath = path;
  }
  return firstbootPath;
}

/** A token-shaped value the fakes print, so tests can check it never reaches the log. */
export const TOKEN = 'abcdef.0123456789abcdef';

/** The fake commands: one bash script, linked under every name; `$(basename "$0")` picks the behaviour. */
export const FAKE_SCRIPT = join(packageRoot, 'test', 'node-files', 'fake-command.sh');

export const FAKE_COMMANDS = [
  'grubby',
  'kubeadm',
  'kubectl',
  'systemctl',
  'chronyc',
  'chronyd',
  'efibootmgr',
  'modprobe',
  'sysctl',
  'swapoff',
  'setenforce',
  'getenforce',
  'yum',
  'rpm',
  'ip',
  'docker',
  'crictl',
  'blkid',
  'mount',
  'umount',
  'mountpoint',
] as const;

/** The stand-in for kubeadm's certificate renewal (fake-command.sh hands `kubeadm alpha|certs ...` to it). */
export const FAKE_KUBEADM_CERTS = join(packageRoot, 'test', 'node-files', 'fake-kubeadm-certs.sh');

export interface Sandbox {
  root: string;
  /** Where the fakes keep counters and state (`FAKE_DIR`). */
  fake: string;
  callsLog: string;
  envFile: string;
  /** Paths the env file points at. */
  p: {
    etc: string;
    state: string;
    log: string;
    kubeDir: string;
    pkiDir: string;
    pkiBackup: string;
    adminKubeconfig: string;
    kubeadmConfig: string;
    cni: string;
    caCert: string;
    token: string;
    modulesLoad: string;
    installMarker: string;
    installEnv: string;
  };
  /** Extra process env for the scripts (PATH with the fakes first, knobs). */
  env: Record<string, string>;
  cleanup(): void;
}

export const PKI_FILES = ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'sa.key', 'sa.pub'];

const INIT_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
bootstrapTokens:
  - token: ${TOKEN}
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.17.4
`;
const JOIN_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta2
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 127.0.0.1:6443
    token: ${TOKEN}
`;
const JOIN_CP_CONFIG = `${JOIN_CONFIG}controlPlane:
  localAPIEndpoint:
    advertiseAddress: 127.0.0.1
    bindPort: 6443
`;

export type Role = 'init' | 'join-control-plane' | 'join';

/** A sandbox whose firstboot.env has `role` and `vars` (overriding the fast test defaults). */
export function makeSandbox(role: Role, vars: Record<string, string> = {}, caCertPem = 'no CA\n'): Sandbox {
  const root = tempDir('k8s-image-node-files-');
  const bin = join(root, 'bin');
  const fake = join(root, 'fake');
  mkdirSync(bin);
  mkdirSync(fake);
  const fakePath = join(root, 'fake-command');
  writeFileSync(fakePath, readFileSync(FAKE_SCRIPT));
  chmodSync(fakePath, 0o755);
  for (const c of FAKE_COMMANDS) symlinkSync(fakePath, join(bin, c));

  const etc = join(root, 'etc/k8s-image');
  const p: Sandbox['p'] = {
    etc,
    state: join(root, 'var/lib/k8s-image'),
    log: join(root, 'var/log/k8s-image/firstboot.log'),
    kubeDir: join(root, 'etc/kubernetes'),
    pkiDir: join(root, 'etc/kubernetes/pki'),
    pkiBackup: join(etc, 'pki'),
    adminKubeconfig: join(root, 'root/.kube/config'),
    kubeadmConfig: join(etc, 'kubeadm.yaml'),
    cni: join(etc, 'cni.yaml'),
    caCert: join(etc, 'ca.crt'),
    token: join(etc, 'token'),
    modulesLoad: join(root, 'etc/modules-load.d'),
    installMarker: join(root, 'var/lib/k8s-image/install.done'),
    installEnv: join(etc, 'install.env'),
  };
  // The install finished (the kickstart or cloud-init did it); tests of an unfinished one remove this.
  mkdirSync(p.state, { recursive: true });
  writeFileSync(p.installMarker, '2020-11-12T00:00:00+00:00\n');
  mkdirSync(join(p.pkiBackup, 'etcd'), { recursive: true });
  // What the plan writes for docker with ipvs; writeModules() changes it.
  mkdirSync(p.modulesLoad, { recursive: true });
  writeFileSync(join(p.modulesLoad, 'k8s.conf'), '# test\nbr_netfilter\nip_vs\nip_vs_rr\nip_vs_wrr\nip_vs_sh\n');
  // Distinct bytes per file, so a mixed-up restore shows.
  for (const f of PKI_FILES) writeFileSync(join(p.pkiBackup, f), `backup ${f} ${Math.random()}\n`, { mode: f.endsWith('.key') ? 0o600 : 0o644 });
  writeFileSync(p.kubeadmConfig, role === 'init' ? INIT_CONFIG : role === 'join' ? JOIN_CONFIG : JOIN_CP_CONFIG, { mode: 0o600 });
  writeFileSync(p.cni, 'kind: DaemonSet\n');
  writeFileSync(p.caCert, caCertPem);
  writeFileSync(p.token, `${TOKEN}\n`, { mode: 0o600 });

  const settings: Record<string, string> = {
    ROLE: role,
    NODE_NAME: role === 'join' ? 'node01' : 'master',
    NODE_IP: '127.0.0.1',
    ENDPOINT: '127.0.0.1:6443',
    WAIT_FOR: '',
    RUNTIME_SERVICE: 'docker',
    RETRIES: '3',
    WAIT_DEADLINE: '20',
    TIME_SYNC_DEADLINE: '2',
    CA_CERT: p.caCert,
    KUBEADM_CONFIG: p.kubeadmConfig,
    CNI_MANIFEST: p.cni,
    PKI_BACKUP: p.pkiBackup,
    KUBE_DIR: p.kubeDir,
    PKI_DIR: p.pkiDir,
    ADMIN_KUBECONFIG: p.adminKubeconfig,
    STATE_DIR: p.state,
    LOG_FILE: p.log,
    MODULES_LOAD_DIR: p.modulesLoad,
    TOKEN_FILE: p.token,
    TOKEN_TTL: '3600',
    JOIN_DEADLINE: '604800',
    EXPECTED_NODES: 'node01 node02',
    WAIT_BACKOFF_BASE: '0.2',
    WAIT_BACKOFF_MAX: '0.4',
    RETRY_BACKOFF_BASE: '0.05',
    RETRY_BACKOFF_MAX: '0.1',
    POLL_INTERVAL: '0.1',
    READY_DEADLINE: '5',
    INSTALL_SCRIPT: script('install.sh'),
    INSTALL_MARKER: p.installMarker,
    INSTALL_LOG: join(root, 'var/log/k8s-image/install.log'),
    ...vars,
  };
  const envFile = join(etc, 'firstboot.env');
  // Same shape the plan writes: KEY=value, lists quoted.
  writeFileSync(envFile, `# test\n${Object.entries(settings).map(([k, v]) => (/[\s]/.test(v) || v === '' ? `${k}="${v}"` : `${k}=${v}`)).join('\n')}\n`);

  // A CentOS 7.9 machine's boot config (BIOS, /boot on its own partition): one stock kernel, GRUB_DEFAULT=saved.
  writeFileSync(join(fake, 'grub.cfg'), grubCfg([STOCK_KERNEL]));
  writeFileSync(join(fake, 'default-grub'), 'GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\nGRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=centos/root rhgb quiet"\nGRUB_DISABLE_RECOVERY="true"\n');
  writeFileSync(join(fake, 'sysconfig-kernel'), '# UPDATEDEFAULT specifies if new-kernel-pkg should make\n# new kernels the default\nUPDATEDEFAULT=yes\n\n# DEFAULTKERNEL specifies the default kernel package type\nDEFAULTKERNEL=kernel\n');
  writeFileSync(join(fake, 'proc-cmdline'), `BOOT_IMAGE=/vmlinuz-${STOCK_KERNEL} root=/dev/mapper/centos-root ro crashkernel=auto rd.lvm.lv=centos/root rhgb quiet LANG=en_US.UTF-8\n`);
  writeFileSync(join(fake, 'grubenv'), `# GRUB Environment Block\nsaved_entry=${kernelTitle(STOCK_KERNEL)}\n`);

  const callsLog = join(root, 'calls.log');
  writeFileSync(callsLog, '');
  return {
    root,
    fake,
    callsLog,
    envFile,
    p,
    env: {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      K8S_IMAGE_ENV: envFile,
      K8S_IMAGE_INSTALL_ENV: p.installEnv,
      FAKE_CALLS: callsLog,
      FAKE_DIR: fake,
      FAKE_PKI_DIR: p.pkiDir,
      FAKE_KUBE_DIR: p.kubeDir,
      // install.sh's boot files, never the host's: a stock CentOS 7.9 boot (no extra kernel arguments).
      GRUB_DEFAULTS: join(fake, 'default-grub'),
      KERNEL_SYSCONFIG: join(fake, 'sysconfig-kernel'),
      PROC_CMDLINE: join(fake, 'proc-cmdline'),
      KERNEL_RELEASE: STOCK_KERNEL,
      FAKE_KUBEADM_CERTS,
      TOKEN,
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** CentOS 7.9's own kernel release. */
export const STOCK_KERNEL = '3.10.0-1160.el7.x86_64';

/** The menu entry title grub2-mkconfig (10_linux, CentOS 7) gives a kernel. */
export function kernelTitle(release: string): string {
  return `CentOS Linux (${release}) 7 (Core)`;
}

/**
 * A grub.cfg as CentOS 7's grub2-mkconfig writes it (BIOS, /boot on its own partition, so paths have
 * no /boot): the saved-entry default block of 00_header and one 10_linux entry per kernel, in order.
 */
export function grubCfg(releases: string[], args = 'root=/dev/mapper/centos-root ro crashkernel=auto rd.lvm.lv=centos/root rhgb quiet LANG=en_US.UTF-8'): string {
  const head = [
    '#',
    '# DO NOT EDIT THIS FILE',
    '#',
    '### BEGIN /etc/grub.d/00_header ###',
    'set pager=1',
    '',
    'if [ -s $prefix/grubenv ]; then',
    '  load_env',
    'fi',
    'if [ "${next_entry}" ] ; then',
    '   set default="${next_entry}"',
    '   set next_entry=',
    '   save_env next_entry',
    '   set boot_once=true',
    'else',
    '   set default="${saved_entry}"',
    'fi',
    '### END /etc/grub.d/00_header ###',
    '',
    '### BEGIN /etc/grub.d/10_linux ###',
  ];
  const entries = releases.flatMap((r) => [
    `menuentry '${kernelTitle(r)}' --class centos --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-${r}-advanced-0a1b2c3d' {`,
    '\tload_video',
    '\tset gfxpayload=keep',
    '\tinsmod gzio',
    '\tinsmod part_msdos',
    '\tinsmod xfs',
    "\tset root='hd0,msdos1'",
    `\tlinux16 /vmlinuz-${r} ${args}`,
    `\tinitrd16 /initramfs-${r}.img`,
    '}',
  ]);
  return `${[...head, ...entries, '### END /etc/grub.d/10_linux ###', ''].join('\n')}`;
}

/** The modules-load.d/k8s.conf the plan would have written for this node. */
export function writeModules(sb: Sandbox, modules: string[]): void {
  writeFileSync(join(sb.p.modulesLoad, 'k8s.conf'), `# test\n${modules.join('\n')}\n`);
}

/** Set a fake's counter (e.g. `init-fails` = 1 makes the next kubeadm init fail once). */
export function setCounter(sb: Sandbox, name: string, n: number): void {
  writeFileSync(join(sb.fake, name), `${n}\n`);
}

/** Every fake call so far, as argv arrays with the command name first. */
export function calls(sb: Sandbox): string[][] {
  return readFileSync(sb.callsLog, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Calls of `cmd` whose arguments start with `prefix`. */
export function callsOf(sb: Sandbox, cmd: string, ...prefix: string[]): string[][] {
  return calls(sb).filter((c) => c[0] === cmd && prefix.every((a, i) => c[i + 1] === a));
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  done: Promise<RunResult>;
}

/** Start a script (async, so an HTTPS stub in this process can answer it); killed after `timeoutMs`. */
export function start(sb: Sandbox, file: string, env: Record<string, string> = {}, timeoutMs = 15000, args: string[] = []): Running {
  const t0 = Date.now();
  const child = spawn('bash', [script(file), ...args], {
    env: { ...sb.env, ...env, LANG: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { done };
}

export function run(sb: Sandbox, file: string, env: Record<string, string> = {}, timeoutMs?: number, args: string[] = []): Promise<RunResult> {
  return start(sb, file, env, timeoutMs, args).done;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 50 ms until true or `ms` passed; returns whether it became true. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

// ---------------------------------------------------------------------------------------------
// HTTPS /healthz stub
// ---------------------------------------------------------------------------------------------

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl not runnable (install the Debian package openssl): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export interface Healthz {
  url: string;
  caPem: string;
  /** Status /healthz answers now. */
  status: number;
  hits: number;
  close(): Promise<void>;
}

/** A loopback HTTPS server with a fresh CA and a server certificate for IP 127.0.0.1; /healthz answers `status`. */
export async function startHealthz(initialStatus: number): Promise<Healthz> {
  const dir = tempDir('k8s-image-healthz-');
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca', '-days', '2'], dir);
    openssl(['req', '-new', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1'], dir);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf'], dir);
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const key = readFileSync(join(dir, 'srv.key'));
    const cert = readFileSync(join(dir, 'srv.crt'));
    const state = { status: initialStatus, hits: 0 };
    const server: Server = createServer({ key, cert }, (req, res) => {
      if (req.url === '/healthz') {
        state.hits++;
        res.writeHead(state.status, { 'content-type': 'text/plain' });
        res.end(state.status === 200 ? 'ok' : 'unhealthy');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      url: `https://127.0.0.1:${port}/healthz`,
      caPem,
      get status() {
        return state.status;
      },
      set status(s: number) {
        state.status = s;
      },
      get hits() {
        return state.hits;
      },
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function exists(path: string): boolean {
  return existsSync(path);
}
