/**
 * The PXE tree as a file tree, written by the CLI as users run it: a 1,000-node farm under the
 * default open-file limit of Debian and CentOS (ulimit -n 1024) is byte-identical (paths, bytes,
 * modes) to one written with a high limit; the modes other users' daemons need (directories 0755,
 * public files 0644, a node's secrets 0600, the root too, although mkdtemp makes it 0700); a re-run
 * keeps what the user placed and what --installer provided, and drops a removed node's files;
 * --loaders; servers the nodes cannot reach and non-unicast MACs are refused with exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { farmYaml } from '../helpers/farm.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const base = tempDir('k8s-image-pxe-tree-');

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

test('modes: the root and directories 0755, public files 0644, a node\'s secrets and the report keys 0600, whatever the umask', () => {
  const dir = join(base, 'modes');
  mkdirSync(dir);
  writeFileSync(join(dir, 'farm.yaml'), farmYaml(2));
  // A strict umask (077) must not leave the tree unreadable to dnsmasq and nginx.
  const r = spawnSync('bash', ['-c', `umask 077 && exec '${process.execPath}' '${cli}' pxe -c farm.yaml -s 10.20.0.1:8080`], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const tree = join(dir, 'outputs', 'farm-pxe');
  assert.equal(statSync(tree).mode & 0o777, 0o755, 'the root (a mkdtemp staging dir, 0700 when made)');
  const secret = /^(report-keys\.json|http\/seed\/.*|http\/nocloud\/[^/]+\/user-data)$/;
  let secrets = 0;
  for (const [p, e] of snapshot(tree)) {
    if (e.kind === 'dir') assert.equal(e.mode, 0o755, p);
    else if (secret.test(p)) {
      assert.equal(e.mode, 0o600, p);
      secrets++;
    } else assert.equal(e.mode, 0o644, p);
  }
  assert.ok(secrets > 6, `${secrets} secret files`);
  assert.ok(existsSync(join(tree, 'http/seed/master/k8s-image/etc/k8s-image/pki/ca.key')));
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
  assert.match(again.stdout, /^boot loaders: pxelinux\.0 \(kept from the previous tree\), ldlinux\.c32 \(kept from the previous tree\), shimx64\.efi \(kept from the previous tree\), grubx64\.efi \(kept from the previous tree\)$/m);
  assert.doesNotMatch(again.stdout, /^missing /m);
  assert.match(again.stdout, /UEFI clients cannot boot from it/);
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
