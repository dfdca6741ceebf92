/**
 * The PXE tree as a file tree, written by the CLI as users run it: a 1,000-node farm under the
 * default open-file limit of Debian and CentOS (ulimit -n 1024) is byte-identical (paths, bytes,
 * modes) to one written with a high limit; the modes other users' daemons need (directories 0755,
 * public files 0644, a node's secrets 0600, the root too, although mkdtemp makes it 0700); a re-run
 * keeps what the user placed and what --installer provided, and drops a removed node's files;
 * --loaders; servers the nodes cannot reach and non-unicast MACs are refused with exit 2; under
 * umask 077 the out dir pxe creates and the entries --reinstall writes stay readable to the daemons;
 * an out dir below a directory other users cannot search is named in a warning; --state DIR is the
 * state serve --state DIR keeps (install markers read for the entries, cleared by --reinstall).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import yaml from 'js-yaml';
import { farmYaml } from '../helpers/farm.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const base = tempDir('k8s-image-pxe-tree-');
// mkdtemp makes it 0700, which pxe rightly warns about (dnsmasq and nginx could not reach a tree below it).
chmodSync(base, 0o755);

/** The CLI under a shell's open-file limit, as a user runs it (`ulimit -n N; k8s-image pxe ...`). */
function pxe(cwd: string, args: string[], nofile: number | 'hard' = 1024) {
  const quoted = [process.execPath, cli, 'pxe', ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return spawnSync('bash', ['-c', `ulimit -n ${nofile === 'hard' ? '$(ulimit -Hn)' : nofile} && exec ${quoted}`], { cwd, encoding: 'utf8', timeout: 300_000 });
}

/** Every entry under root: relative path, type, mode, and for files their bytes (sorted). */
function snapshot(root: string): Map<string, { mode: number; kind: string; bytes?: Buffer }> {
  const out = new Map<string, { mode: number; kind: string; bytes?: Buffer }>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) {
        out.set(r, { mode: st.mode & 0o7777, kind: 'dir' });
        walk(r);
      } else out.set(r, { mode: st.mode & 0o7777, kind: st.isFile() ? 'file' : 'other', bytes: st.isFile() ? readFileSync(join(root, r)) : undefined });
    }
  };
  walk('');
  return out;
}

test('a 1,000-node farm under ulimit -n 1024 writes, byte-identical (paths, bytes, modes) to a run with the hard limit', () => {
  const dir = join(base, 'big');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(999));
  const high = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080'], 'hard');
  assert.equal(high.status, 0, high.stderr);
  const tree = join(dir, 'outputs', 'farm-pxe');
  const a = snapshot(tree);
  assert.ok(a.size > 15_000, `${a.size} entries: every node's files`);
  // The same out dir (the configs name the tree's absolute path), the old tree moved away: nothing to carry.
  spawnSync('mv', [tree, join(dir, 'high-tree')]);
  const low = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080'], 1024);
  assert.equal(low.status, 0, low.stderr);
  assert.doesNotMatch(low.stderr, /EMFILE|too many open files/i);
  const b = snapshot(tree);
  assert.deepEqual([...b.keys()], [...a.keys()], 'the same paths');
  for (const [p, e] of a) {
    const f = b.get(p)!;
    assert.equal(f.mode, e.mode, `${p}: mode`);
    assert.ok(f.kind === e.kind && (e.bytes === undefined || e.bytes.equals(f.bytes!)), `${p}: bytes`);
  }
});

/** `umask 077; k8s-image pxe ARGS` in cwd. */
function pxeUmask077(cwd: string, args: string[]) {
  const quoted = [process.execPath, cli, 'pxe', ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return spawnSync('bash', ['-c', `umask 077; exec ${quoted}`], { cwd, encoding: 'utf8' });
}

test('modes: the out dir pxe creates, the root and directories 0755, public files 0644, a node\'s secrets, the report keys, the proxy token and the nginx site that holds it 0600, whatever the umask', () => {
  const dir = join(base, 'modes');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(2));
  // A strict umask (077) must not leave the tree unreadable to dnsmasq and nginx: not the out dir
  // (and its parents) pxe makes either.
  const r = pxeUmask077(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '-o', 'out/farm']);
  assert.equal(r.status, 0, r.stderr);
  for (const d of ['out', 'out/farm']) assert.equal(statSync(join(dir, d)).mode & 0o777, 0o755, `${d}: made by pxe, other users traverse it`);
  assert.doesNotMatch(r.stderr, /cannot reach the PXE tree/, 'nothing to warn about');
  const tree = join(dir, 'out', 'farm', 'farm-pxe');
  assert.equal(statSync(tree).mode & 0o777, 0o755, 'the root (a mkdtemp staging dir, 0700 when made)');
  const token = readFileSync(join(tree, 'proxy-token'), 'utf8');
  assert.match(token, /^[0-9a-f]{64}\n$/);
  assert.match(readFileSync(join(tree, 'nginx-k8s-image.conf'), 'utf8'), new RegExp(`proxy_set_header X-K8s-Image-Proxy ${token.trim()};`));
  const secret = /^(report-keys\.json|proxy-token|nginx-k8s-image\.conf|http\/seed\/.*|http\/nocloud\/[^/]+\/user-data)$/;
  let secrets = 0;
  for (const [p, e] of snapshot(tree)) {
    if (e.kind === 'dir') assert.equal(e.mode, 0o755, p);
    else if (secret.test(p)) {
      assert.equal(e.mode, 0o600, p);
      secrets++;
    } else assert.equal(e.mode, 0o644, p);
  }
  assert.ok(secrets > 8, `${secrets} secret files`);
  assert.ok(existsSync(join(tree, 'http/seed/master/k8s-image/etc/k8s-image/pki/ca.key')));
  assert.equal(snapshot(tree).get('cloud-image/node0001.cmdline')?.mode, 0o644, 'a cloud image\'s kernel arguments: no secret');
});

test('an out dir that exists keeps its mode; a 0700 directory above it is named in a warning with the fix', () => {
  const dir = join(base, 'private');
  mkdirSync(join(dir, 'home', 'out'), { recursive: true });
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(1));
  chmodSync(join(dir, 'home'), 0o700); // like /root
  chmodSync(join(dir, 'home', 'out'), 0o750);
  const r = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '-o', 'home/out']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(statSync(join(dir, 'home', 'out')).mode & 0o777, 0o750, 'not pxe\'s to change');
  const warnings = r.stderr.split('\n').filter((l) => /cannot reach the PXE tree/.test(l));
  assert.equal(warnings.length, 2, r.stderr);
  assert.match(warnings[0]!, new RegExp(`${join(dir, 'home').replaceAll('.', '\\.')} is 0700: .*chmod o\\+x ${join(dir, 'home').replaceAll('.', '\\.')}`));
  assert.match(warnings[1]!, new RegExp(`${join(dir, 'home', 'out').replaceAll('.', '\\.')} is 0750`));
  chmodSync(join(dir, 'home'), 0o755);
  chmodSync(join(dir, 'home', 'out'), 0o755);
  const ok = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '-o', 'home/out']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, /cannot reach the PXE tree/);
});

test('--state DIR (serve --state\'s): its install markers choose the entries and --reinstall clears them there; under umask 077 the entries it writes are 0644', () => {
  const dir = join(base, 'state');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(2));
  const state = join(dir, 'farm-state');
  // What serve --state farm-state wrote when node0001 reported its install.
  mkdirSync(join(state, 'installed'), { recursive: true });
  writeFileSync(join(state, 'installed', 'node0001'), 'reported\n');
  const r = pxeUmask077(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--state', 'farm-state']);
  assert.equal(r.status, 0, r.stderr);
  const tree = join(dir, 'outputs', 'farm-pxe');
  const entries = ['tftp/pxelinux.cfg/01-00-50-56-3f-00-01', 'tftp/grub.cfg-01-00-50-56-3f-00-01', 'http/ipxe/01-00-50-56-3f-00-01.ipxe'];
  assert.match(readFileSync(join(tree, entries[0]!), 'utf8'), /LOCALBOOT 0/, 'installed, by the marker in --state');
  assert.match(r.stdout, /node0001 .*local disk \(installed\)/);
  assert.match(r.stdout, /k8s-image serve --dir \S+ --state farm-state /, 'the serve command names the same state');
  const again = pxeUmask077(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--state', 'farm-state', '--reinstall', 'node0001']);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(!existsSync(join(state, 'installed', 'node0001')), 'the marker serve reads is gone: serve hands out the secrets again');
  for (const e of entries) {
    assert.match(readFileSync(join(tree, e), 'utf8'), /install/, e);
    assert.equal(statSync(join(tree, e)).mode & 0o777, 0o644, `${e}: dnsmasq and nginx read it whatever the umask`);
  }
  assert.match(readFileSync(join(tree, entries[0]!), 'utf8'), /DEFAULT install/);
});

test('a re-run keeps the loaders the user placed and the files --installer provided, drops a removed node\'s files, and says what it kept', () => {
  const dir = join(base, 'rerun');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(3));
  const dvd = join(dir, 'dvd');
  const dvdFiles: Record<string, string> = { 'images/pxeboot/vmlinuz': 'KERNEL', 'images/pxeboot/initrd.img': 'INITRD', 'EFI/BOOT/grubx64.efi': 'GRUB', 'EFI/BOOT/BOOTX64.EFI': 'SHIM' };
  for (const [p, text] of Object.entries(dvdFiles)) {
    mkdirSync(join(dvd, p, '..'), { recursive: true });
    writeFileSync(join(dvd, p), text, { mode: 0o444 });
  }
  const first = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--installer', dvd]);
  assert.equal(first.status, 0, first.stderr);
  const tree = join(dir, 'outputs', 'farm-pxe');
  assert.equal(statSync(join(tree, 'tftp/shimx64.efi')).mode & 0o777, 0o644, 'the DVD\'s 0444 becomes 0644');
  // What the README tells the user to copy in, over what pxe found on this host.
  writeFileSync(join(tree, 'tftp/pxelinux.0'), 'USER PXELINUX');
  writeFileSync(join(tree, 'tftp/ldlinux.c32'), 'USER LDLINUX');
  writeFileSync(join(tree, 'tftp/centos7/vmlinuz'), 'USER KERNEL');
  mkdirSync(join(tree, 'tftp/extra'));
  writeFileSync(join(tree, 'tftp/extra/memtest.bin'), 'MEMTEST');
  // A node taken out of the farm: its entries and secrets must not survive.
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(2));
  const again = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080']);
  assert.equal(again.status, 0, again.stderr);
  const expect: Record<string, string> = {
    'tftp/pxelinux.0': 'USER PXELINUX',
    'tftp/ldlinux.c32': 'USER LDLINUX',
    'tftp/centos7/vmlinuz': 'USER KERNEL',
    'tftp/extra/memtest.bin': 'MEMTEST',
    'tftp/centos7/initrd.img': 'INITRD',
    'http/centos7/images/pxeboot/vmlinuz': 'KERNEL',
    'http/centos7/images/pxeboot/initrd.img': 'INITRD',
    'tftp/grubx64.efi': 'GRUB',
    'tftp/shimx64.efi': 'SHIM',
  };
  for (const [p, text] of Object.entries(expect)) assert.equal(readFileSync(join(tree, p), 'utf8'), text, p);
  assert.match(again.stdout, /^kept from the previous tree \(not rendered by k8s-image\): .*tftp\/pxelinux\.0/m);
  assert.match(again.stdout, /^boot loaders: pxelinux\.0 \(kept from the previous tree\), ldlinux\.c32 \(kept from the previous tree\), shimx64\.efi \(kept from the previous tree\), grubx64\.efi \(kept from the previous tree\), undionly\.kpxe \(kept from the previous tree\), ipxe\.efi \(kept from the previous tree\)$/m);
  assert.doesNotMatch(again.stdout, /^missing /m);
  assert.match(again.stdout, /UEFI clients with Secure Boot on \(pxe --secure-boot\) cannot boot from it/);
  assert.ok(!existsSync(join(tree, 'http/ks/node0003.cfg')), 'the removed node\'s kickstart');
  assert.ok(!existsSync(join(tree, 'http/seed/node0003')), 'the removed node\'s secrets');
  assert.ok(!existsSync(join(tree, 'tftp/pxelinux.cfg/01-00-50-56-3f-00-03')), 'the removed node\'s entry');
  assert.ok(existsSync(join(tree, 'http/ks/node0002.cfg')));
});

test('loaders: pxelinux from the build host when nothing else gives it; --loaders DIR; the summary names what is missing and how to get it', () => {
  const dir = join(base, 'loaders');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(1));
  const r = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080']);
  assert.equal(r.status, 0, r.stderr);
  const tree = join(dir, 'outputs', 'farm-pxe');
  for (const [name, host] of [['pxelinux.0', '/usr/lib/PXELINUX/pxelinux.0'], ['ldlinux.c32', '/usr/lib/syslinux/modules/bios/ldlinux.c32']] as const) {
    if (!existsSync(host)) continue; // Debian's pxelinux / syslinux-common not installed here
    assert.deepEqual(readFileSync(join(tree, 'tftp', name)), readFileSync(host), name);
    assert.match(r.stdout, new RegExp(`${name.replace('.', '\\.')} \\(from ${host}\\)`));
  }
  assert.match(r.stdout, /^missing tftp\/shimx64\.efi: --installer <CentOS 7 DVD> \(its EFI\/BOOT\/BOOTX64\.EFI\) or --loaders DIR$/m);
  assert.match(r.stdout, /^missing tftp\/grubx64\.efi: /m);
  assert.match(r.stdout, /^missing the installer kernel: pass --installer/m);
  const ld = join(dir, 'ld');
  mkdirSync(ld);
  writeFileSync(join(ld, 'BOOTX64.EFI'), 'SHIM');
  writeFileSync(join(ld, 'grubx64.efi'), 'GRUB');
  writeFileSync(join(ld, 'pxelinux.0'), 'PXE');
  const l = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--loaders', ld]);
  assert.equal(l.status, 0, l.stderr);
  assert.equal(readFileSync(join(tree, 'tftp/shimx64.efi'), 'utf8'), 'SHIM');
  assert.equal(readFileSync(join(tree, 'tftp/pxelinux.0'), 'utf8'), 'PXE', '--loaders wins over the kept one');
  assert.match(l.stdout, new RegExp(`shimx64\\.efi \\(from --loaders ${ld}\\)`));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  for (const bad of [empty, join(dir, 'nope')]) {
    const e = pxe(dir, ['-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--loaders', bad]);
    assert.equal(e.status, 2, e.stderr);
    assert.match(e.stderr, /--loaders .*(none of|not a directory)/);
  }
  assert.equal(readFileSync(join(tree, 'tftp/shimx64.efi'), 'utf8'), 'SHIM', 'a refused run leaves the tree as it was');
});

test('servers the nodes cannot reach and non-unicast MACs are refused with exit 2 and one line naming the problem', () => {
  const dir = join(base, 'refuse');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(1));
  for (const [server, why] of [
    ['10.20.0.1:99999', /--server 10\.20\.0\.1:99999: port 99999 is out of range; a TCP port is 1-65535/],
    ['10.20.0.1:0', /port 0 is out of range/],
    ['127.0.0.1:8080', /--server 127\.0\.0\.1:8080: 127\.0\.0\.1 is a loopback address/],
    ['127.1.2.3', /loopback address/],
    ['localhost:8080', /loopback name/],
    ['0.0.0.0:8080', /unspecified address/],
    ['239.1.1.1:8080', /multicast address/],
    ['255.255.255.255:8080', /the broadcast address/],
    ['10.20.255.255:8080', /broadcast address of master's subnet 10\.20\.0\.10\/16/],
    ['10.20.0.300:8080', /is not an IPv4 address/],
  ] as const) {
    const r = pxe(dir, ['-c', 'farm.yaml', '-s', server]);
    assert.equal(r.status, 2, `${server}: ${r.stderr}`);
    assert.match(r.stderr, why, server);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
  }
  assert.ok(!existsSync(join(dir, 'outputs', 'farm-pxe')), 'nothing written');
  for (const [mac, why] of [
    ['ff:ff:ff:ff:ff:ff', 'a broadcast address'],
    ['01:00:5e:00:00:01', 'a multicast address'],
    ['33:33:00:00:00:01', 'a multicast address'],
    ['00:00:00:00:00:00', 'all zero'],
  ]) {
    writeFileSync(join(dir, 'bad.yaml'), readFileSync(join(dir, 'farm.yaml'), 'utf8').replace('00:50:56:3f:00:01', mac!));
    const r = pxe(dir, ['-c', 'bad.yaml', '-s', '10.20.0.1:8080']);
    assert.equal(r.status, 2, `${mac}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`nodes\\[1\\]\\.mac: "${mac}" is ${why}`), r.stderr);
  }
});

test('nodes left out of a farm (no mac) are warned about in a few lines, not one per node', () => {
  const dir = join(base, 'nomac');
  mkdirSync(dir, { recursive: true });
  // 200 workers, 150 of them without a mac.
  const doc = yaml.load(farmYaml(200, 'nomac')) as { nodes: { mac?: string }[] };
  for (const n of doc.nodes.slice(1, 151)) delete n.mac;
  writeFileSync(join(dir, 'nomac.yaml'), yaml.dump(doc));
  const r = pxe(dir, ['-c', 'nomac.yaml', '--server', '10.20.0.1:8080']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /not in the PXE tree/.test(l));
  assert.equal(lines.length, 4, r.stderr);
  assert.match(lines[3]!, /^warning: 147 more nodes are not in the PXE tree for the same reason \(node0004, node0005, node0006, node0007, node0008 and 142 more\): give each its mac$/);
});
