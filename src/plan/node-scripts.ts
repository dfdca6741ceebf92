import { readAsset } from '../assets.js';

/**
 * First boot is kept one concern a file in node-files/firstboot/ (as kubeadm's phases/ and cloud-init's
 * cc_* modules are) and lands on the node as one script, /usr/local/lib/k8s-image/firstboot.sh: a node
 * keeps one file to read, run and log, and its bytes do not depend on how the repository is cut.
 * The order below is only the order of definitions; which stages run, and in what order per role, is
 * main() in driver.sh.
 */
export const FIRSTBOOT_PARTS = [
  'settings.sh', // header, env file, optional settings, the log
  'lib.sh', // log/die, reports, failure trap, env checks, timing, run
  'hooks.sh', // one's own hook scripts (custom.hooks)
  'stages/prepare.sh',
  'stages/time.sh',
  'stages/images.sh',
  'stages/pull.sh',
  'pki.sh', // masters: the shared CA material
  'wait.sh', // waits on other machines
  'kubeadm.sh', // init/join attempts with reset and retry
  'stages/before_kubeadm.sh',
  'stages/init.sh',
  'stages/join.sh',
  'stages/cni.sh',
  'stages/ready.sh',
  'stages/after_ready.sh',
  'stages/endpoint.sh',
  'stages/keeper.sh',
  'install-check.sh', // the install must have finished
  'driver.sh', // markers, resumption, per-stage reports, each role's stage order
] as const;

/** A part's repository notes (lines starting with "#:") are not part of the node's script. */
const NOTE = /^#:(?: .*)?\n/gm;

let firstboot: string | undefined;

/** The node's first-boot script, assembled from node-files/firstboot/ (once per process). */
export function firstbootScript(): string {
  firstboot ??= FIRSTBOOT_PARTS.map((p) => readAsset(`node-files/firstboot/${p}`).replace(NOTE, '')).join('');
  return firstboot;
}
