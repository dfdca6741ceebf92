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
