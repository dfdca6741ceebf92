import type { Cluster } from '../config/index.js';
import { kernelImage, needsNokmem } from '../versions/index.js';
import type { YumRepo } from './repos.js';

/**
 * The kernel a Kubernetes node boots: CentOS 7's own, or ELRepo's kernel-lt (os.kernel: lt) as the
 * default boot entry; and the kernel command line arguments every entry gets. One description, read by
 * every path: the repo file and the package go through the plan's repo and package lists (install.sh
 * installs them, in the installer's chroot or on a running system); the default entry and the arguments
 * through install.env (install.sh runs grubby on both paths) and the kickstart's `bootloader --append`.
 */
export interface BootPlan {
  /** Added to every boot entry (and to GRUB_CMDLINE_LINUX for kernels installed later). */
  args: string[];
  /** kernel-lt: the package (and its /boot/vmlinuz-...) that must be the default boot entry. */
  defaultKernel?: { package: string; image: string };
}

export const ELREPO_REPO_FILE = '/etc/yum.repos.d/elrepo-kernel.repo';

export function bootPlan(cluster: Cluster): BootPlan {
  const k = cluster.os.kernel;
  const args = needsNokmem(cluster.kubernetesVersion) ? ['cgroup.memory=nokmem'] : [];
  return k.kind === 'lt' ? { args, defaultKernel: { package: 'kernel-lt', image: kernelImage(k.version) } } : { args };
}

/** The ELRepo kernel repository (os.kernel lt): enabled, but only kernel-lt is taken from it (includepkgs). */
export function kernelRepo(cluster: Cluster): { file: string; repos: YumRepo[] } | undefined {
  if (cluster.os.kernel.kind !== 'lt' || !cluster.mirrors.elrepo) return undefined;
  return {
    file: ELREPO_REPO_FILE,
    repos: [{ id: 'elrepo-kernel', name: 'ELRepo kernel-lt for EL7 (archive)', baseurl: `${cluster.mirrors.elrepo.replace(/\/+$/, '')}/`, gpgkey: [cluster.mirrors.elrepoKey!], enabled: true, exclude: ['kernel-lt*'] }],
  };
}

/** The pinned kernel-lt package (installed with --disableexcludes=elrepo-kernel, like the other pins). */
export function kernelPackages(cluster: Cluster): string[] {
  const k = cluster.os.kernel;
  return k.kind === 'lt' ? [`kernel-lt-${k.version}`] : [];
}

/** install.env lines install.sh reads for the boot entries. */
export function bootEnv(boot: BootPlan): [string, string | string[]][] {
  const env: [string, string | string[]][] = [];
  if (boot.args.length) env.push(['KERNEL_ARGS', boot.args]);
  if (boot.defaultKernel) env.push(['DEFAULT_KERNEL', boot.defaultKernel.image], ['DEFAULT_KERNEL_PACKAGE', boot.defaultKernel.package]);
  return env;
}
