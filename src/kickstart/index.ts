import { createHash } from 'node:crypto';
import type { Artifact } from '../artifact.js';
import { sharedBytes, textArtifact } from '../artifact.js';
import type { NodePlan, PlanFile } from '../plan/index.js';
import { renderTemplate } from '../template.js';

/** Where secret files sit on the OEMDRV seed, mirroring their absolute path on the node. */
export const SEED_FILES_DIR = 'k8s-image';

const DELIMITER = 'K8S_IMAGE_EOF';
/** Stands in for the node files while the template renders; no validated value holds a NUL. */
const WRITE_FILES_MARK = '\u0000k8s-image:write-files\u0000';
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/**
 * Shell that writes one file byte-exact. A quoted heredoc keeps the text readable; content that a
 * heredoc cannot carry exactly (no trailing newline, a line equal to the delimiter, or a line starting
 * with % that anaconda would take for a section header) goes as base64 instead.
 */
export function writeFileShell(f: PlanFile): string {
  // The node files a farm shares (scripts, units, repo files) are escaped once per process; keyed by
  // the content string, whose hash V8 keeps, so a node's own files cost one short lookup each.
  let byContent = shellCache.get(f.content);
  if (!byContent) {
    if (shellCache.size >= 4096) shellCache.clear();
    shellCache.set(f.content, (byContent = new Map()));
  }
  const key = `${f.path}\0${f.mode}`;
  let text = byContent.get(key);
  if (text === undefined) byContent.set(key, (text = fileShell(f)));
  return text;
}

const shellCache = new Map<string, Map<string, string>>();

function fileShell(f: PlanFile): string {
  const dir = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
  const lines = [`mkdir -p ${dir}`];
  const heredocSafe = f.content.endsWith('\n') && !f.content.split('\n').some((l) => l === DELIMITER || l.startsWith('%') || l.includes('\r'));
  if (heredocSafe) {
    lines.push(`cat > ${f.path} <<'${DELIMITER}'`, `${f.content}${DELIMITER}`);
  } else {
    const b64 = Buffer.from(f.content, 'utf8').toString('base64').replace(/.{1,76}/g, '$&\n');
    lines.push(`base64 -d > ${f.path} <<'${DELIMITER}'`, `${b64}${DELIMITER}`);
  }
  lines.push(`chmod ${octal(f.mode)} ${f.path}`);
  return lines.join('\n');
}

/**
 * Shell (run in the installer, %post --nochroot) that copies one secret file into the new system and
 * checks it. Not `install -D`: lorax removes /usr/bin/install from CentOS 7's install image
 * (share/runtime-cleanup.tmpl, `removefrom coreutils ... /usr/bin/install`); mkdir, cp, chmod and
 * sha256sum stay. The copy is made under umask 077, so it is never readable by others.
 */
function copySecretShell(f: PlanFile): string {
  const sha = createHash('sha256').update(f.content).digest('hex');
  const target = `/mnt/sysimage${f.path}`;
  return [
    `mkdir -p ${target.slice(0, target.lastIndexOf('/'))}`,
    `(umask 077 && cp "$seed/${SEED_FILES_DIR}${f.path}" ${target})`,
    `chmod ${octal(f.mode)} ${target}`,
    `echo "${sha}  ${target}" | sha256sum -c --quiet`,
  ].join('\n');
}

export interface KickstartOptions {
  /** Install source line: `cdrom` for the VMware ISO flow; the PXE flow passes a `url --url=...` line. */
  source?: string;
  /** Fetch the secret files from this URL (`<url>/<path under k8s-image/>`) instead of the OEMDRV seed. */
  seedUrl?: string;
  /** Copy them from this mounted directory (the install DVD itself, remastered) instead of the OEMDRV seed. */
  seedDir?: string;
}

/** ks.cfg for the node plus the OEMDRV seed tree (ks.cfg at its root and the secret files). Pure. */
export function renderKickstart(plan: NodePlan, opts: KickstartOptions = {}): Artifact[] {
  const secret = plan.files.filter((f) => f.secret);
  const plain = plan.files.filter((f) => !f.secret);
  const ks = renderTemplate('kickstart/ks.cfg.mustache', {
    cluster: plan.cluster,
    role: plan.role,
    hostname: plan.hostname,
    source: opts.source ?? 'cdrom',
    timezone: plan.timezone,
    // Validated host names and IPv4 addresses: safe in the kickstart and in shell words.
    ntpServers: plan.ntpServers.join(','),
    ntpServerList: plan.ntpServers,
    // Anaconda matches --device by MAC or name; with neither known, `link` takes the first NIC with a link.
    device: plan.network.mac ?? plan.network.device ?? 'link',
    dhcp: plan.network.dhcp === true,
    ip: plan.network.ip,
    netmask: plan.network.netmask,
    gateway: plan.network.gateway,
    nameservers: plan.network.dns.join(','),
    rootPasswordHash: plan.rootPasswordHash,
    sshKeys: plan.sshAuthorizedKeys,
    selinux: plan.selinux,
    firewallOpen: plan.firewall === 'open',
    disk: plan.disk,
    // Validated constants (src/plan/kernel.ts): no quotes or spaces inside one argument.
    kernelArgs: plan.boot.args.join(' '),
    packages: plan.basePackages,
    hasSecretFiles: secret.length > 0,
    copySecretFiles: secret.map(copySecretShell).join('\n'),
    seedUrl: opts.seedUrl,
    seedDir: opts.seedDir,
    oemdrv: !opts.seedUrl && !opts.seedDir,
    seedFiles: secret.map((f) => `${SEED_FILES_DIR}${f.path}`).join(' '),
    status: plan.status !== undefined,
    reportUrl: plan.status?.reportUrl,
    reporter: plan.status?.reporter,
    key: plan.status?.key,
    seedPrefix: SEED_FILES_DIR,
    writeFiles: WRITE_FILES_MARK,
    installScript: plan.installScript,
  });
  // The node files go in as bytes: the big ones (the shared scripts) are encoded once per process.
  const [head, tail, ...extra] = ks.split(WRITE_FILES_MARK);
  if (tail === undefined || extra.length) throw new Error('ks.cfg template: expected {{{writeFiles}}} exactly once');
  const files = plain.flatMap((f, i) => {
    const shell = writeFileShell(f);
    return [i === 0 ? '' : '\n', shell.length >= 4096 ? sharedBytes(shell) : shell];
  });
  // One encoding for both copies (and one hash in the manifest).
  const ksArtifact = textArtifact('ks.cfg', [head!, ...files, tail]);
  return [
    ksArtifact,
    { ...ksArtifact, path: 'oemdrv/ks.cfg' },
    ...secret.map((f) => textArtifact(`oemdrv/${SEED_FILES_DIR}${f.path}`, f.content, true, 0o600)),
    // The %pre reports "installing" before the files land: it takes the sender from the seed too.
    ...plain.filter((f) => f.path === plan.status?.reporter).map((f) => textArtifact(`oemdrv/${SEED_FILES_DIR}${f.path}`, f.content, false, 0o755)),
  ];
}
