/**
 * VMware guestinfo: a node's cloud-init seed as VM properties instead of a CD, for cloud-init's
 * VMware datasource (cloud-init 21.3 and later; CentOS 7's stock 19.4 does not have it, so this
 * serves golden images with a newer cloud-init). Per node: the lines for its .vmx file and a govc
 * script setting the same. Pure; reproducible (gzip with no name and no time).
 */
import { gzipSync } from 'node:zlib';
import type { Artifact } from '../artifact.js';
import { textArtifact } from '../artifact.js';
import { UserError } from '../errors.js';

/** Linux refuses a single command-line argument longer than this (MAX_ARG_STRLEN): govc -e would fail. */
const MAX_ARG = 128 * 1024 - 64;

export interface GuestinfoKeys {
  'guestinfo.metadata': string;
  'guestinfo.metadata.encoding': 'base64';
  'guestinfo.userdata': string;
  'guestinfo.userdata.encoding': 'gzip+base64';
}

/**
 * The datasource reads the network configuration from the metadata's `network` key, so the
 * metadata is meta-data's own text plus that key (network-config, base64).
 */
export function guestinfoKeys(seed: { userData: Uint8Array; metaData: Uint8Array; networkConfig: Uint8Array }): GuestinfoKeys {
  const meta = `${Buffer.from(seed.metaData).toString('utf8').replace(/\n*$/, '\n')}network: ${Buffer.from(seed.networkConfig).toString('base64')}\nnetwork.encoding: base64\n`;
  return {
    'guestinfo.metadata': Buffer.from(meta).toString('base64'),
    'guestinfo.metadata.encoding': 'base64',
    'guestinfo.userdata': gzipSync(seed.userData, { level: 9 }).toString('base64'),
    'guestinfo.userdata.encoding': 'gzip+base64',
  };
}

/** `<node>.vmx` (lines to add to the VM's .vmx, powered off) and `<node>.govc.sh`; both 0600 (user-data holds secrets). */
export function renderGuestinfo(node: string, seed: { userData: Uint8Array; metaData: Uint8Array; networkConfig: Uint8Array }): Artifact[] {
  const keys = guestinfoKeys(seed);
  for (const [k, v] of Object.entries(keys)) {
    if (v.length > MAX_ARG) throw new UserError(`${node}: ${k} is ${v.length} bytes, more than one command-line argument may hold (${MAX_ARG}); attach the cidata ISO instead`);
  }
  const vmx = [
    `# k8s-image: ${node}'s cloud-init seed as VMware guestinfo (cloud-init 21.3+ VMware datasource).`,
    '# Add to the powered-off VM\'s .vmx; the values carry the node\'s secrets (keep this file 0600).',
    ...Object.entries(keys).map(([k, v]) => `${k} = "${v}"`),
    '',
  ].join('\n');
  const govc = [
    '#!/bin/sh',
    `# k8s-image: hand ${node} its cloud-init seed as VMware guestinfo (no CD), with govc.`,
    '# Needs GOVC_URL (and GOVC_USERNAME/GOVC_PASSWORD or a session); VM=<inventory path> when the',
    `# VM is not named ${node}. The values carry the node's secrets (keep this file 0600).`,
    'set -eu',
    `vm=\${VM:-${node}}`,
    'govc vm.change -vm "$vm" \\',
    ...Object.entries(keys).map(([k, v], i, all) => `  -e "${k}=${v}"${i < all.length - 1 ? ' \\' : ''}`),
    `echo "guestinfo set on $vm: power it on (with a cloud-init that has the VMware datasource)"`,
    '',
  ].join('\n');
  return [textArtifact(`${node}.vmx`, vmx, true, 0o600), textArtifact(`${node}.govc.sh`, govc, true, 0o600)];
}
