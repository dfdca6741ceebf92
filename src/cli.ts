#!/usr/bin/env node
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { UserError, fileSystemProblem, problemObject } from './errors.js';
import { toolVersion } from './assets.js';
import type { Output } from './commands/common.js';

// commander through require(): its ESM wrapper makes the loader parse the CommonJS file for its
// export names first, a few milliseconds of every start (`--help` is measured against bare node).
const { Command, CommanderError, Option } = createRequire(import.meta.url)('commander') as typeof Commander;

// Each command's module is loaded when it runs: `--help` and `versions` need no X.509, YAML or
// schema library, and start about as fast as node itself.
const stdio = async (): Promise<Output> => (await import('./commands/common.js')).stdio;
// The commands that render whole farms: see src/batch.ts.
const batch = async () => (await import('./batch.js')).tuneForBatch();
const validate = async (o: object) => (await import('./commands/validate.js')).validate(o, await stdio());
const init = async (o: object) => (await import('./commands/init.js')).init(o, await stdio());
const schema = async (o: object) => (await import('./commands/schema.js')).schema(o, await stdio());
const build = async (o: object) => (await batch(), (await import('./commands/build.js')).build(o, await stdio()));
const secrets = async (o: object) => (await import('./commands/secrets.js')).secrets(o, await stdio());
const kubeconfig = async (o: object) => (await import('./commands/kubeconfig.js')).kubeconfig(o, await stdio());
const render = async (o: object) => (await batch(), (await import('./commands/render.js')).render(o, await stdio()));
const pxe = async (o: object) => (await batch(), (await import('./commands/pxe.js')).pxe(o, await stdio()));
const serve = async (o: object) => (await import('./commands/serve.js')).serve(o, await stdio());
const status = async (o: object) => (await import('./commands/status.js')).status(o, await stdio());
const golden = async (o: object) => (await import('./commands/golden.js')).golden(o, await stdio());
const packer = async (o: object) => (await import('./commands/golden.js')).packer(o, await stdio());
const guestinfo = async (o: object) => (await import('./commands/golden.js')).guestinfo(o, await stdio());
const remaster = async (o: object) => (await import('./commands/remaster.js')).remaster(o, await stdio());
const bundle = async (o: object) => (await import('./commands/bundle.js')).bundle(o, await stdio());
const versions = async (o: object) => (await import('./commands/versions.js')).versions(o, await stdio());
const tokenCreate = async (o: object) => (await import('./commands/token.js')).tokenCreate(o, await stdio());

const program = new Command('k8s-image')
  .description(
    'Turn a cluster description into CentOS 7 kickstart files, cloud-init seeds, seed ISOs and first-boot scripts that kubeadm init the master and kubeadm join every other node, with no hands on them.',
  )
  .addHelpText(
    'after',
    `
Getting started:
  k8s-image build --role master        build the embedded 3-node lab's master (no config needed)
  k8s-image init -o cluster.yaml       write a commented starting file (--ha: 3 masters + LB)
  k8s-image validate -c cluster.yaml   check it: every problem, with the field that has it
  k8s-image build -c cluster.yaml      every node's ks.cfg, cloud-init data and seed ISOs

Farms and images:
  k8s-image pxe -s 10.0.0.1:8080       a PXE boot tree; k8s-image serve --dir <tree> serves it
  k8s-image serve -c cluster.yaml      the live status of nodes built with --status (page at /status)
  k8s-image golden | packer            a golden VM image sealed for cloning (Packer template)
  k8s-image remaster --iso DVD -n X    the CentOS 7 DVD as node X's unattended installer

Then attach the CentOS 7 DVD and <node>-oemdrv.iso to a VM (or <node>-cidata.iso to a cloud
image) and power on. Exit codes: 0 ok, 2 a problem you can fix (named on stderr), 1 a bug.

Day 2:
  k8s-image status                     each node's stage, each master's certificate expiry
  k8s-image token create --write       a join token for nodes added later, then build -n NODE`,
  )
  .version(toolVersion())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const configOption = () => new Option('-c, --config <file>', 'cluster description (default: the embedded lab: one master and two workers on 192.168.108.0/24, the file `k8s-image init` writes)');

program
  .command('init')
  .description('write a commented starting cluster.yaml (the lab, or the HA layout with --ha)')
  .option('--ha', 'three masters with stacked etcd, two workers and one nginx load balancer on 10.0.0.0/16')
  .option('-o, --out <file>', 'where to write it (default: stdout)')
  .option('--force', 'overwrite an existing file')
  .action((o) => init(o));

program
  .command('validate')
  .description('check a cluster description and print its nodes, or every problem found (exit 2)')
  .addOption(configOption())
  .option('--json', 'machine-readable result on stdout')
  .action((o) => validate(o));

const outOption = () => new Option('-o, --out <dir>', 'output directory').default('outputs');
// --secrets sets K8S_IMAGE_SECRETS for the run: every part of it (and serve's key child) finds the same file.
const secretsOption = () => new Option('--secrets <file>', 'the secrets file: the cluster CA, join token and keys, mode 0600 (default: $K8S_IMAGE_SECRETS, else <cluster>.secrets.yaml beside the config, or in <out>/ for the embedded lab)').argParser((v: string) => {
  if (!v) throw new UserError('--secrets: empty; name the secrets file, like --secrets ~/k8s-secrets/prod.secrets.yaml');
  return (process.env.K8S_IMAGE_SECRETS = v);
});
// Commands that take the CA from the secrets file and never make one: --new-ca is refused, saying why.
const noNewCa = (why: string) => new Option('--new-ca').hideHelp().preset(true).argParser((): boolean => {
  throw new UserError(`--new-ca: ${why}; a new CA is made only by a full build (k8s-image build --new-ca), and every node must then be reinstalled (README: "The secrets file and the CA")`);
});
const collect = (v: string, prev: string[] = []) => [...prev, v];
/** A command that reads the cluster and its secrets and writes a tree under <out>. */
const clusterCommand = (name: string, description: string) =>
  program
    .command(name)
    .description(description)
    .addOption(configOption())
    .addOption(outOption())
    .addOption(secretsOption())
    .addOption(noNewCa('a golden image holds no CA, and guestinfo seeds carry the CA of the secrets file'))
    .option('--json', 'machine-readable result on stdout');

for (const [name, withIsos] of [['build', true], ['render', false]] as const) {
  const cmd = program
    .command(name)
    .description(
      withIsos
        ? 'render every selected node and pack its seed ISOs (<node>-cidata.iso, <node>-oemdrv.iso)'
        : 'render every selected node: ks.cfg, oemdrv/, cloud-init/{user-data,meta-data,network-config}',
    )
    .addOption(configOption())
    .addOption(new Option('-r, --role <role>', 'only nodes with this role').choices(['master', 'node', 'lb', 'all']).default('all'))
    .option('-n, --node <name>', 'only this node (repeatable)', collect)
    .addOption(outOption())
    .addOption(secretsOption())
    .option('--new-ca', 'full builds only: a new CA when the secrets file is gone although <out>/<cluster> holds artifacts, or the secrets file\'s CA when it differs from theirs; every node must be reinstalled (never replaces the CA in an existing secrets file)')
    .option('--status <url>', 'nodes report each bootstrap stage to k8s-image serve at this URL, e.g. http://192.168.108.1:8080 (overrides status.url)')
    .option('--json', 'machine-readable summary on stdout');
  if (withIsos) {
    cmd
      .addOption(new Option('--seed <kind>', 'which seed ISOs').choices(['cidata', 'oemdrv', 'both']).default('both'))
      .addOption(new Option('--iso-tool <tool>', 'ISO writer: the built-in one, or xorriso/genisoimage').choices(['builtin', 'xorriso', 'genisoimage']).default('builtin'));
  }
  cmd.addHelpText(
    'after',
    withIsos
      ? `
Examples:
  k8s-image build --role master              the embedded lab's master, no config needed
  k8s-image build -c cluster.yaml            every node of your cluster
  k8s-image build -c cluster.yaml -n node07 --seed cidata
  k8s-image build -c cluster.yaml --status http://192.168.108.1:8080
                                             nodes report progress; watch with k8s-image serve -c cluster.yaml

Outputs under <out>/<cluster>/<node>/; files holding keys or the join token are mode 0600.
The secrets file (<cluster>.secrets.yaml) is created once, beside the config (or in <out>/ for
the embedded lab), and reused so every rebuild is byte-identical. SOURCE_DATE_EPOCH sets the
timestamps inside the ISOs.`
      : '',
  );
  cmd.action((o) => (withIsos ? build(o) : render(o)));
}

program
  .command('secrets')
  .description('create the cluster secrets file if missing and print where it is; --show prints the join command')
  .addOption(configOption())
  .addOption(outOption())
  .option('--show', 'print the join command (token, CA hash) and a generated root password')
  .addOption(secretsOption())
  .option('--new-ca', 'mint the secrets file although <out>/<cluster> holds artifacts of a lost CA (never replaces an existing secrets file)')
  .option('--json', 'machine-readable result on stdout')
  .action((o) => secrets(o));

program
  .command('kubeconfig')
  .description('write an admin kubeconfig signed offline by the cluster CA (server: the control-plane endpoint)')
  .addOption(configOption())
  .addOption(outOption())
  .option('-f, --file <file>', 'where to write it, mode 0600 (default: stdout)')
  .addOption(secretsOption())
  .option('--force', 'overwrite an existing file')
  .action((o) => kubeconfig(o));

const token = program.command('token').description('bootstrap tokens for nodes added after the first bootstrap (the shared token is deleted at bootstrap.joinDeadline)');
token
  .command('create')
  .description('create a new bootstrap token in the running cluster through its API (admin credentials signed offline by the cluster CA), exactly as kubeadm token create does; print it')
  .addOption(configOption())
  .addOption(outOption())
  .addOption(secretsOption())
  .option('--ttl <duration>', 'how long it lasts: 24h, 1h30m, 2d; 0 = never expires (default: 24h, as kubeadm)')
  .option('--write', 'also put it into the secrets file (atomic, 0600), so the next `build -n NODE` seeds join with it')
  .option('--server <url>', 'the API server (default: https://<cluster.controlPlaneEndpoint>)')
  .option('--json', 'machine-readable result on stdout')
  .addHelpText(
    'after',
    `
Adding a node later: add it to cluster.yaml, then
  k8s-image token create -c cluster.yaml --write     a fresh token, in the cluster and the secrets file
  k8s-image build -c cluster.yaml -n NODE            its seeds (same CA), carrying that token
and boot it before the token expires. The machine running this must reach the control-plane endpoint.`,
  )
  .action((o) => tokenCreate(o));

program
  .command('pxe')
  .description('write a PXE boot tree: per-MAC pxelinux/GRUB/iPXE entries, dnsmasq and nginx configs, per-node kickstarts (url source) and nocloud-net data')
  .addOption(configOption())
  .addOption(outOption())
  .option('-s, --server <host:port>', 'the farm HTTP server (k8s-image serve, or nginx) as the nodes reach it: an address on their network (not loopback), port 1-65535')
  .option('--repo <url>', 'install repository (default: the server\'s centos7/, i.e. serve --installer)')
  .option('--kernel-arg <arg>', 'extra kernel argument for every install entry, e.g. console=ttyS0,115200 (repeatable)', collect)
  .option('--installer <dvd>', 'a CentOS 7 DVD (the ISO image, read in place, or its extracted tree): copies images/pxeboot/{vmlinuz,initrd.img} and EFI/BOOT\'s GRUB into the tree')
  .option('--loaders <dir>', 'a directory of boot loaders to copy into tftp/: iPXE\'s undionly.kpxe and ipxe.efi, shimx64.efi (or BOOTX64.EFI), grubx64.efi, pxelinux.0, ldlinux.c32 (default: --installer\'s, the previous tree\'s, then the build host\'s iPXE in /usr/lib/ipxe and syslinux)')
  .option('--secure-boot [node...]', 'UEFI nodes with Secure Boot on (all of them when no node is named): they keep the signed shim + GRUB chain and fetch the kernel over TFTP; the others chain to iPXE and fetch it over HTTP')
  .option('--log-dhcp', 'dnsmasq logs every DHCP exchange in detail (log-dhcp; off by default: about 10 lines per exchange in a boot storm)')
  .option('--reinstall <node>', 'put this node\'s install entries back after its install was reported (repeatable)', collect)
  .option('--state <dir>', 'where serve keeps the reported installs, as serve --state (default: <tree>.state): read for the entries, cleared by --reinstall')
  .addOption(secretsOption())
  .option('--new-ca', 'a new CA when the secrets file is gone although <out>/<cluster> holds artifacts, or the secrets file\'s CA when it differs from theirs (never replaces the CA in an existing secrets file)')
  .option('--json', 'machine-readable summary on stdout')
  .addHelpText(
    'after',
    `
Examples:
  k8s-image pxe -c farm.yaml --server 10.0.0.1:8080 --installer /srv/centos7-dvd --kernel-arg console=ttyS0,115200
  dnsmasq -k -C outputs/farm-pxe/dnsmasq.conf          (dnsmasq-proxy.conf beside an office DHCP server: all but Secure Boot clients)
  k8s-image serve --dir outputs/farm-pxe --listen 0.0.0.0:8080 --installer /srv/centos7-dvd
  k8s-image serve --dir outputs/farm-pxe --listen 127.0.0.1:8081 --trust-proxy   (behind nginx: nginx-k8s-image.conf)
  k8s-image pxe -c farm.yaml --server 10.0.0.1:8080 --reinstall node07   (--state DIR if serve runs with --state DIR)

Only the loader goes over TFTP: BIOS gets iPXE's undionly.kpxe, UEFI ipxe.efi (Secure Boot nodes:
shim + GRUB), and iPXE fetches the kernel and initrd over HTTP. dnsmasq.conf is sized for the farm
(leases, TFTP transfers, no lease file); racks on other subnets reach it through a DHCP relay.
Every node needs a mac (DHCP reserves its ip by it). A node's kickstart reports "installed" to the
server, which then points that MAC at the local disk: a machine left on PXE-first installs once.
nginx-k8s-image.conf is 0600 (it holds the proxy token serve --trust-proxy checks). Cloud images that
netboot take cloud-image/<node>.cmdline on their kernel command line (static network, NoCloud seed).`,
  )
  .action((o) => pxe(o));

program
  .command('serve')
  .description('the farm HTTP server: the PXE tree (and a DVD as /centos7/), secrets only to their node; the farm status: signed node reports, kept durably, on a live page')
  .option('-d, --dir <dir>', 'the PXE tree k8s-image pxe wrote (outputs/<cluster>-pxe)')
  .addOption(new Option('-c, --config <file>', 'without --dir: serve only the status of this cluster (nodes built with status.url or build --status)'))
  .addOption(outOption())
  .option('-l, --listen <addr:port>', 'where to listen', '0.0.0.0:8080')
  .option('--state <dir>', 'where the status log and reported installs are kept (default: <dir>.state, or <out>/<cluster>-status with --config)')
  .option('--installer <dvd>', 'a CentOS 7 DVD (ISO image or extracted tree), served as the install repository /centos7/')
  .option('--bundle <dir>', 'an offline bundle (k8s-image bundle), served as /bundle/ for nodes with mirrors.bundle: http://<server>/bundle; with -c, refused when built for another Kubernetes version')
  .addOption(secretsOption())
  .option('--max-installing <n>', 'at most this many nodes install at once (with --dir; default 500, about one 10 GbE link: ~1.5 GB per install in ~10 min); the others get an iPXE script that sleeps and asks again, in the order they came; 0: no limit')
  .option('--retry-after <seconds>', 'how long a node told to wait sleeps in iPXE before it asks again, plus up to as much again spread by node (default 30)')
  .option('--trust-proxy', 'behind the nginx site k8s-image pxe wrote (needs --dir): a request from a loopback address that carries the tree\'s proxy-token in X-K8s-Image-Proxy may name the real client in X-Real-IP, which decides whose secrets it may read; without the token such a request is refused')
  .addHelpText(
    'after',
    `
Examples:
  k8s-image serve --dir outputs/farm-pxe --installer CentOS-7-x86_64-DVD-2009.iso
  k8s-image serve --dir outputs/farm-pxe --listen 127.0.0.1:8081 --trust-proxy    behind nginx
  k8s-image serve -c cluster.yaml --listen 0.0.0.0:8080      status only (VMware/cloud-init nodes)
  k8s-image serve --dir outputs/farm-pxe --bundle outputs/farm-bundle       air-gapped: + /bundle/

Open http://<server>/status for the live page (one row per node, its stage and the failure log);
k8s-image status --server http://<server> prints it in a terminal. Every report is signed with the
node's own key and kept in <state>/status.log (fsynced before it is acknowledged). A node's secrets
(seed/<node>/, nocloud/<node>/) go to its own address only, and only until its install is reported
(k8s-image pxe --reinstall <node> hands them out again; with --state DIR, give pxe the same --state).
Re-running k8s-image pxe while serve runs is fine: serve follows the new tree (nodes, addresses,
report keys, proxy token) at the next request, and records an install under pxe's lock.
A node holds one of the --max-installing slots from its iPXE entry (or its kickstart) until it
reports installed or failed, or for 2 hours; the status page shows how many install and wait.`,
  )
  .action((o) => serve(o));

program
  .command('status')
  .description('print the farm status k8s-image serve keeps: each node\'s stage, time in stage and last report')
  .addOption(configOption())
  .option('-s, --server <url>', 'the server (default: the config\'s status.url, else http://127.0.0.1:8080)')
  .option('-w, --watch', 'redraw at every report until Ctrl-C')
  .option('--failed', 'also print the log of every failed node')
  .option('--json', 'the status document, machine-readable')
  .action((o) => status(o));

clusterCommand('golden', 'the golden image of the cluster: a kickstart (and OEMDRV seed) that installs what every node needs, pulls the images at first boot, seals the VM for cloning and powers it off')
  .addHelpText(
    'after',
    `
Writes <out>/<cluster>-golden/: ks.cfg, oemdrv/ and golden-oemdrv.iso. Boot a VM from the CentOS 7
DVD with golden-oemdrv.iso as a second CD: it installs with no key pressed, and at its first boot
pulls the control-plane images, seals itself (machine-id, SSH host keys, cloud-init state, NIC
HWADDR/UUID, logs, histories, yum caches) and powers off. Make it a template; each clone takes its
name, address and role from its own <node>-cidata.iso (k8s-image build --seed cidata). The image
holds no secret: no CA key, no token. k8s-image packer builds the same image unattended.`,
  )
  .action((o) => golden(o));

clusterCommand('packer', 'a Packer template (qemu and vsphere-iso builders) that builds the golden image from its kickstart')
  .addHelpText(
    'after',
    `
Writes <out>/<cluster>-packer/golden.json and http/ks.cfg (Packer serves it; the boot command types
inst.ks= at the DVD's menu). Variables: iso_url, iso_checksum (required, sha256:...), and for
vSphere vcenter_server, vcenter_username, vcenter_password, vcenter_datacenter, vcenter_cluster,
vcenter_datastore, vcenter_iso_path, vcenter_network, vcenter_folder. Example:
  cd outputs/k8s-lab-packer && packer build -only=qemu -var iso_checksum=sha256:... golden.json`,
  )
  .action((o) => packer(o));

clusterCommand('guestinfo', 'each node\'s cloud-init seed as VMware guestinfo: .vmx lines and a govc script (cloud-init 21.3+; not CentOS 7\'s stock 19.4)')
  .option('-n, --node <name>', 'only this node (repeatable)', collect)
  .action((o) => guestinfo(o));

program
  .command('remaster')
  .description('one bootable installer ISO for a node: the CentOS 7 DVD with its kickstart inside, BIOS and UEFI menus defaulting to it')
  .addOption(configOption())
  .option('--iso <dvd>', 'the CentOS 7 DVD image (CentOS-7-x86_64-DVD-2009.iso); read in place, streamed')
  .option('-n, --node <name>', 'the node it installs')
  .option('-o, --output <file>', 'the ISO to write, mode 0600 (default: outputs/<cluster>-<node>-install.iso)')
  .option('--force', 'replace an existing image file (never a device, a link or the --iso input)')
  .option('--bundle <dir>', 'put the offline bundle (k8s-image bundle -o DIR) on the DVD as /k8s-image-bundle/: with mirrors.bundle: iso the install copies it to the disk and installs from it, and first boot imports its images (one disc, nothing served)')
  .addOption(secretsOption())
  .addOption(noNewCa('remaster makes one node\'s installer, which would leave every other node with the old CA'))
  .option('--json', 'machine-readable result on stdout')
  .addHelpText(
    'after',
    `
Needs xorriso (and mtools for the UEFI menu inside images/efiboot.img). The node's secret files
(its join token; a master's CA keys) travel inside the image, so the ISO is 0600: keep it like the
secrets file. Example:
  k8s-image remaster -c cluster.yaml --iso CentOS-7-x86_64-DVD-2009.iso --node node01 -o node01.iso`,
  )
  .action((o) => remaster(o));

program
  .command('bundle')
  .description('air-gapped farms: one offline bundle of everything the nodes download (a yum repository of the pinned packages and their dependencies, the images kubeadm and the CNI need, the signing keys)')
  .addOption(configOption())
  .option('-o, --output <dir>', 'the bundle directory (default: outputs/<cluster>-bundle); re-running into it downloads only what changed')
  .option('--installer <dvd>', 'the CentOS 7 DVD (ISO image, read in place, or extracted tree): its packages count as available to the nodes and are left out (a smaller bundle; needs mirrors.installer, the URL of the DVD tree the nodes get as a second repository, like http://<server>:8080/centos7 from serve --installer)')
  .option('--kubeadm-images <list>', 'the images kubeadm asks for, comma-separated (default: asked from the bundled kubeadm itself, which needs an x86_64 Linux host)')
  .option('--iso <file>', 'also write the bundle as one ISO 9660 image (label K8SBUNDLE, made with xorriso, same bundle same bytes) to attach to every node as a CD drive, with mirrors.bundle: iso (VMware, a BMC\'s virtual media: no server needed)')
  .option('--json', 'machine-readable summary on stdout')
  .addHelpText(
    'after',
    `
Run it on a machine that reaches the mirrors of cluster.yaml (mirrors.preset and the URLs under it,
cluster.imageRepository, mirrors.cniImageRegistry). It makes, in -o:
  repo/       the pinned packages (kubeadm, kubelet, kubectl, kubernetes-cni, cri-tools, the runtime)
              and everything they need, resolved as ONE transaction by dnf (Debian package dnf) from
              those repositories, indexed by createrepo_c the way CentOS 7's yum 3 reads it
  keys/       the Docker and Kubernetes signing keys (the nodes keep gpgcheck=1)
  images/     one archive per image (kube-*, etcd, coredns, pause, the CNI's), linux/amd64, named as
              kubeadm asks for them; docker load and ctr -n k8s.io images import both take them
  bundle.json every file's sha256 and size, the Kubernetes version, the package and image lists

Then serve it and point the nodes at it:
  k8s-image serve --dir outputs/farm-pxe --bundle outputs/farm-bundle     served as /bundle/
  mirrors:
    bundle: http://10.0.0.1:8080/bundle      (in cluster.yaml; then build/pxe/remaster again)
Nodes then install from the bundle only and import its images before kubeadm; a bundle made for
another Kubernetes version is refused with the reason. Needs the Debian packages dnf, createrepo-c,
rpm and cpio.

Examples:
  k8s-image bundle -c cluster.yaml -o outputs/farm-bundle
  k8s-image bundle -c cluster.yaml -o outputs/farm-bundle --installer CentOS-7-x86_64-DVD-2009.iso`,
  )
  .action((o) => bundle(o));

program
  .command('versions')
  .description('print the supported Kubernetes/runtime version matrix for CentOS 7 (docs/versions.md explains it)')
  .option('--all', 'also list 1.32+ (rendered only with cluster.allowUnsupportedVersion)')
  .option('--json', 'every fact of every known minor, machine-readable')
  .action((o) => versions(o));

program
  .command('schema')
  .description('print the JSON Schema of cluster.yaml for editors')
  .action((o) => schema(o));

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof Error && e.name === 'Interrupted') {
      const i = e as Error & { signal: string; exitCode: number };
      process.stderr.write(`\nk8s-image: interrupted (${i.signal}); removed the unfinished build, the previous outputs are intact\n`);
      return i.exitCode;
    }
    const fsProblem = fileSystemProblem(e);
    if (e instanceof UserError || fsProblem) {
      const problems = e instanceof UserError ? e.problems : [fsProblem!.message];
      for (const p of problems) process.stderr.write(`error: ${p}\n`);
      // Scripts asking for --json get the problems on stdout too, as data.
      if (argv.includes('--json')) {
        const errors = fsProblem ? [{ path: fsProblem.path, message: fsProblem.message }] : problems.map(problemObject);
        process.stdout.write(`${JSON.stringify({ ok: false, errors }, null, 2)}\n`);
      }
      return 2;
    }
    process.stderr.write(`k8s-image: internal error (a bug; please report it with this trace):\n${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

// `k8s-image versions | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv);
