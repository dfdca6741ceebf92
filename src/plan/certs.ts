/**
 * Certificate renewal on masters (node-files/cert-renew.sh, run daily by its timer): which kubeadm
 * subcommand renews on the cluster's version, and the settings file the script reads. The facts
 * and their kubeadm source are in test/reference/kubeadm-certs-renew.json, which test/plan holds
 * this table to.
 */
import { parseVersion } from '../versions/index.js';

export const CERT_RENEW_SCRIPT = '/usr/local/lib/k8s-image/cert-renew.sh';
export const CERT_RENEW_ENV = '/etc/k8s-image/cert-renew.env';
export const CERT_RENEW_LOG = '/var/log/k8s-image/cert-renew.log';
export const CERT_RENEW_SERVICE = 'k8s-image-cert-renew.service';
export const CERT_RENEW_TIMER = 'k8s-image-cert-renew.timer';
/**
 * Renew when a certificate has less than this left (60 days): a failing renewal has a month of
 * daily retries before the status page's 30-day warning, and another month before the end.
 */
export const RENEW_WITHIN_SECONDS = 60 * 86400;
/**
 * What a master installs for its certificates: cert-renew.sh and report.py read every certificate
 * with the openssl CLI (in @core on CentOS 7, not on every cloud image).
 */
export const MASTER_PACKAGES = ['openssl'];

/**
 * `kubeadm alpha certs renew all` up to 1.19 (cmd/kubeadm/app/cmd/alpha/certs.go); `kubeadm certs
 * renew all` from 1.20, when the command left alpha (cmd/kubeadm/app/cmd/certs.go; `alpha certs` was
 * removed in 1.21).
 */
export function certsRenewCommand(kubernetesVersion: string): string[] {
  return parseVersion(kubernetesVersion).minor <= 19 ? ['alpha', 'certs', 'renew', 'all'] : ['certs', 'renew', 'all'];
}

/**
 * Masters must not renew together: a renewal restarts the master's etcd and API server, and every
 * master doing it in the same minute (one OnCalendar=daily for all; systemd 219 has no
 * RandomizedDelaySec, which came in 229) loses etcd's quorum. Each master gets its own time of
 * night from its place among the cluster's masters: 02:00, 02:30, ... 05:30, then again from 02:00
 * (a ninth master shares the first one's slot; etcd clusters stay far below that).
 */
export const RENEW_FIRST_SLOT_MINUTES = 2 * 60;
export const RENEW_SLOT_SPACING_MINUTES = 30;
export const RENEW_SLOTS = 8;
/**
 * After a farm-wide outage every master's Persistent=true timer fires at boot, all at once: the
 * script then waits (master index) x this before renewing (node-files/cert-renew.sh).
 */
export const CATCH_UP_STAGGER_SECONDS = 600;

/** The `HH:MM` at which the master with this index (0-based, among masters in cluster order) renews. */
export function renewSlot(masterIndex: number): string {
  const m = RENEW_FIRST_SLOT_MINUTES + (masterIndex % RENEW_SLOTS) * RENEW_SLOT_SPACING_MINUTES;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** The timer unit of one master: node-files/k8s-image-cert-renew.timer with its own OnCalendar= line. */
export function certRenewTimer(template: string, masterIndex: number): string {
  const lines = template.split('\n');
  const i = lines.findIndex((l) => l.startsWith('OnCalendar='));
  if (i < 0 || lines.findIndex((l, j) => j > i && l.startsWith('OnCalendar=')) >= 0) throw new Error('k8s-image-cert-renew.timer: expected exactly one OnCalendar= line');
  lines[i] = `OnCalendar=*-*-* ${renewSlot(masterIndex)}:00`;
  return lines.join('\n');
}
