import type { NodeStorage } from '../config/types.js';

/** A file that lands on the node, byte-exact. `secret` files never appear in ks.cfg text. */
export interface PlanFile {
  path: string;
  mode: number;
  content: string;
  secret: boolean;
}

/**
 * Everything that lands on one node, format-free. The kickstart and cloud-init renderers both
 * consume this and add no node content of their own.
 */
export interface NodePlan {
  cluster: string;
  /** `<cluster>-<node>-<generation>`: stable across cluster-wide edits, bumped on purpose to re-seed. */
  instanceId: string;
  /** golden: an image of no node in particular, sealed for cloning (`k8s-image golden`). */
  role: 'master' | 'node' | 'lb' | 'golden';
  /** What the first-boot script does: init (first master), join-control-plane, join, or nothing (lb). */
  bootstrap: 'init' | 'join-control-plane' | 'join' | 'none';
  hostname: string;
  fqdn?: string;
  network: {
    /** DHCP instead of the static address below (the golden VM: it has no address of its own). */
    dhcp?: boolean;
    /** The NIC's kernel name when the config names it; undefined when only the MAC (or nothing) is known. */
    device?: string;
    mac?: string;
    ip: string;
    prefix: number;
    netmask: string;
    gateway: string;
    dns: string[];
    search?: string;
    /** The one NIC's MTU (nodes[].mtu); with `devices`, each device has its own. */
    mtu?: number;
    /**
     * Several NICs, bonds and VLANs, in order (NICs, bonds, VLANs: each after what it sits on); the
     * one marked `kubernetes` (named `device` above) holds ip/gateway/dns. Undefined: one NIC.
     */
    devices?: PlanNetDevice[];
  };
  timezone: string;
  /** os.ntpServers: chrony's servers on the node, and the installer's clock source (kickstart %pre and `timezone --ntpservers`). */
  ntpServers: string[];
  selinux: 'disabled' | 'permissive';
  firewall: 'disabled' | 'open';
  rootPasswordHash?: string;
  sshAuthorizedKeys: string[];
  disk: string;
  /** The installer's disk layout beyond one disk (storage / nodes[].storage); undefined: / on all of `disk`. */
  storage?: NodeStorage;
  /** Packages the installer takes from the install medium (kickstart %packages); install.sh also ensures them. */
  basePackages: string[];
  /** Units enabled at install time (also listed in install.env for install.sh). */
  enableServices: string[];
  disableServices: string[];
  /** Run once at install time: plainly in the installer chroot, with --live by cloud-init. */
  installScript: string;
  /** Kernel command line arguments and the default boot entry (src/plan/kernel.ts); none on lb nodes. */
  boot: { args: string[]; defaultKernel?: { package: string; image: string } };
  /** The unit that runs the first-boot stages (every node has it; lb nodes only finish the install). */
  firstbootUnit: string;
  /** Progress reports to `k8s-image serve` (cluster.status): the endpoint, and where the sender and key land. */
  status?: { reportUrl: string; reporter: string; key: string };
  files: PlanFile[];
}

export interface PlanRoute {
  network: string;
  prefix: number;
  netmask: string;
  gateway: string;
  metric?: number;
}

/** One network device of a node: format-free, rendered as a kickstart line, a network-config item, dracut arguments. */
export interface PlanNetDevice {
  kind: 'physical' | 'bond' | 'vlan';
  name: string;
  mac?: string;
  mtu?: number;
  /** bond: its member NICs (kernel names) and bonding driver options, mode first. */
  members?: string[];
  bondOptions?: [string, string][];
  /** vlan: its tag and the NIC or bond it sits on. */
  vlanId?: number;
  link?: string;
  /** The device holding the Kubernetes address (network.ip, the gateway and DNS). */
  kubernetes: boolean;
  /** An address of its own (a storage or management network); never on the Kubernetes device. */
  address?: { ip: string; prefix: number; netmask: string };
  /** Static routes through a gateway on this device's subnet. */
  routes: PlanRoute[];
}

/** The filesystem label of a volume: the same on the kickstart and the cloud-init path (XFS: 12 characters at most). */
export const VOLUME_LABELS = { containerData: 'k8s-data', log: 'k8s-log' } as const;

export const PATHS = {
  installScript: '/usr/local/lib/k8s-image/install.sh',
  firstbootScript: '/usr/local/lib/k8s-image/firstboot.sh',
  tokenKeeperScript: '/usr/local/lib/k8s-image/token-keeper.sh',
  importImagesScript: '/usr/local/lib/k8s-image/import-images.sh',
  bundleMountScript: '/usr/local/lib/k8s-image/bundle-mount.sh',
  firstbootUnit: 'k8s-image-firstboot.service',
  firstbootEnv: '/etc/k8s-image/firstboot.env',
  installEnv: '/etc/k8s-image/install.env',
  installMarker: '/var/lib/k8s-image/install.done',
  installLog: '/var/log/k8s-image/install.log',
  kubeadmConfig: '/etc/k8s-image/kubeadm.yaml',
  cniManifest: '/etc/k8s-image/cni.yaml',
  caCert: '/etc/k8s-image/ca.crt',
  pkiBackup: '/etc/k8s-image/pki',
  tokenFile: '/etc/k8s-image/token',
  stateDir: '/var/lib/k8s-image',
  logFile: '/var/log/k8s-image/firstboot.log',
  goldenScript: '/usr/local/lib/k8s-image/golden.sh',
  sealScript: '/usr/local/lib/k8s-image/seal.sh',
  goldenUnit: 'k8s-image-golden.service',
  goldenEnv: '/etc/k8s-image/golden.env',
  goldenMarker: '/etc/k8s-image/golden.json',
  cloudInitDisabled: '/etc/cloud/cloud-init.disabled',
  /** One's own hook scripts, one directory per point (after-install, before-kubeadm, after-ready). */
  hooksDir: '/usr/local/lib/k8s-image/hooks',
  /** One's own CA certificates: k8s-image-NN.crt here, then update-ca-trust. */
  caAnchorsDir: '/etc/pki/ca-trust/source/anchors',
} as const;
