/**
 * One bootable installer ISO per node: the CentOS 7 DVD with the node's kickstart (and its secret
 * files) inside, and BIOS (isolinux) and UEFI (GRUB, on the ISO and inside images/efiboot.img, which
 * a USB stick boots from) menus whose default entry installs it after a short timeout.
 *
 * The DVD's own boot equipment (El Torito BIOS and EFI records, the isohybrid MBR and GPT) is kept
 * by xorriso's `-boot_image any replay`, as lorax's mkksiso does, and xorriso streams the 4.4 GB
 * from the DVD to the new image: our own writer makes small seeds and has no El Torito or hybrid
 * boot support, and rebuilding that for a DVD would copy what xorriso does well. The menus are
 * read with our ISO reader and edited here; efiboot.img's grub.cfg with mtools.
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Artifact } from '../artifact.js';
import { UserError } from '../errors.js';
import { openIso } from './reader.js';

const exec = promisify(execFile);

/** The label as the kernel's hd:LABEL= takes it: CentOS's own menus write spaces as \x20. */
const kernelLabel = (label: string) => label.replace(/[^A-Za-z0-9._-]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const ENTRY_TITLE = (node: string) => `Install CentOS 7 as ${node} (k8s-image kickstart)`;

/** isolinux.cfg with a first entry, the menu default, that boots the install entry plus `ksArg`. */
export function editIsolinux(cfg: string, node: string, ksArg: string, timeoutTenths = 50): string {
  const lines = cfg.split('\n');
  const labels: { at: number; kernel?: string; append?: string }[] = [];
  for (const [i, l] of lines.entries()) {
    const t = l.trim();
    if (/^label\s/i.test(t)) labels.push({ at: i });
    else if (labels.length && /^kernel\s/i.test(t)) labels.at(-1)!.kernel ??= t.replace(/^kernel\s+/i, '');
    else if (labels.length && /^append\s/i.test(t)) labels.at(-1)!.append ??= t.replace(/^append\s+/i, '');
  }
  // The plain install entry: CentOS's "linux" (not the media check, not rescue).
  const install = labels.find((l) => l.kernel && l.append?.includes('inst.stage2=') && !/rd\.live\.check|inst\.rescue|\brescue\b/.test(l.append)) ?? labels.find((l) => l.kernel && l.append);
  if (!install) throw new UserError('isolinux/isolinux.cfg: no entry with a kernel and an append line; is this a CentOS 7 DVD?');
  const entry = ['label k8s-image', `  menu label ^${ENTRY_TITLE(node)}`, '  menu default', `  kernel ${install.kernel}`, `  append ${install.append!.replace(/\s+inst\.ks=\S+/g, '')} ${ksArg}`, ''];
  const out: string[] = [];
  let timeoutSet = false;
  for (const [i, l] of lines.entries()) {
    if (i === labels[0]!.at) out.push(...entry);
    const t = l.trim();
    if (/^menu\s+default$/i.test(t)) continue;
    if (/^timeout\s+\d+$/i.test(t)) {
      out.push(`timeout ${timeoutTenths}`);
      timeoutSet = true;
      continue;
    }
    out.push(l);
  }
  if (!timeoutSet) out.splice(labels[0]!.at, 0, `timeout ${timeoutTenths}`);
  return out.join('\n');
}

/** grub.cfg with a first menuentry, the default, that boots the install entry plus `ksArg`. */
export function editGrub(cfg: string, node: string, ksArg: string, timeoutSeconds = 5): string {
  const lines = cfg.split('\n');
  const entries: { from: number; to: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*menuentry\s/.test(lines[i]!)) continue;
    let j = i;
    while (j < lines.length && !/^\s*}\s*$/.test(lines[j]!)) j++;
    entries.push({ from: i, to: j });
    i = j;
  }
  const isLinux = (l: string) => /^\s*(linuxefi|linux)\s/.test(l);
  const body = (e: { from: number; to: number }) => lines.slice(e.from, e.to + 1);
  const install =
    entries.find((e) => body(e).some((l) => isLinux(l) && l.includes('inst.stage2=') && !/rd\.live\.check|inst\.rescue|\brescue\b/.test(l))) ?? entries.find((e) => body(e).some(isLinux));
  if (!install) throw new UserError('EFI/BOOT/grub.cfg: no menuentry with a linux/linuxefi line; is this a CentOS 7 DVD?');
  const entry = body(install).map((l, k) =>
    k === 0 ? l.replace(/menuentry\s+('[^']*'|"[^"]*")/, `menuentry '${ENTRY_TITLE(node)}'`) : isLinux(l) ? `${l.replace(/\s+inst\.ks=\S+/g, '')} ${ksArg}` : l,
  );
  const out: string[] = [];
  let defaultSet = false;
  let timeoutSet = false;
  for (const [i, l] of lines.entries()) {
    if (i === entries[0]!.from) out.push(...entry);
    if (/^\s*set\s+default=/.test(l)) {
      out.push('set default="0"');
      defaultSet = true;
      continue;
    }
    if (/^\s*set\s+timeout=/.test(l)) {
      out.push(`set timeout=${timeoutSeconds}`);
      timeoutSet = true;
      continue;
    }
    out.push(l);
  }
  const head = [...(defaultSet ? [] : ['set default="0"']), ...(timeoutSet ? [] : [`set timeout=${timeoutSeconds}`])];
  return [...head, ...out].join('\n');
}

async function need(tool: string, pkg: string, why: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean)) {
    try {
      await access(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      /* next */
    }
  }
  throw new UserError(`${tool} is not installed: ${why}. Install it (Debian/Ubuntu: apt-get install ${pkg}; CentOS/RHEL: yum install ${pkg}) and run again`);
}

/** The percentages in xorriso's pacifier lines (`xorriso : UPDATE : Writing:  13072s  8.9%  fifo 99% ...`). */
export function xorrisoProgress(text: string): number[] {
  return [...text.matchAll(/UPDATE : Writing:\s+\d+s\s+([0-9.]+)%/g)].map((m) => Number(m[1]));
}

export interface RemasterOptions {
  dvd: string;
  output: string;
  node: string;
  /** The node's kickstart: renderKickstart with seedDir /run/install/repo (ks.cfg and oemdrv/k8s-image/...). */
  kickstart: Artifact[];
  /** A scratch directory (removed by the caller). */
  work: string;
  /** Percent written, as xorriso reports it. */
  progress?: (percent: number) => void;
  /** `--bundle`: an offline bundle folder, added whole as /<bundleDir>/ (its repo, keys, images, bundle.json). */
  bundle?: { dir: string; as: string };
}

export interface RemasterResult {
  volumeId: string;
  ksArg: string;
  bios: boolean;
  uefi: boolean;
  efiboot: boolean;
}

/** Write the node's installer ISO to `output` (streamed from the DVD; memory does not grow with it). */
export async function remasterIso(opts: RemasterOptions): Promise<RemasterResult> {
  const xorriso = await need('xorriso', 'xorriso', 'k8s-image remaster keeps the DVD\'s BIOS and UEFI boot records and its hybrid MBR with xorriso');
  const iso = openIso(opts.dvd);
  const maps: [string, string][] = [];
  let result: RemasterResult;
  try {
    const volumeId = iso.volumeId;
    const ksArg = `inst.ks=hd:LABEL=${kernelLabel(volumeId)}:/ks.cfg`;
    const text = (p: string) => {
      const e = iso.lookup(p);
      return e && !e.isDir ? iso.read(e).toString('utf8') : undefined;
    };
    const isolinux = text('isolinux/isolinux.cfg');
    const grub = text('EFI/BOOT/grub.cfg');
    const efiboot = iso.lookup('images/efiboot.img');
    if (!isolinux && !grub) throw new UserError(`--iso ${opts.dvd}: neither isolinux/isolinux.cfg nor EFI/BOOT/grub.cfg in it; pass a CentOS 7 DVD (CentOS-7-x86_64-DVD-2009.iso)`);
    if (!volumeId) throw new UserError(`--iso ${opts.dvd}: the image has no volume label, so the installer could not find its kickstart (hd:LABEL=...)`);
    const put = async (rel: string, content: string | Uint8Array, target: string) => {
      const p = join(opts.work, rel);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, content, { mode: 0o600 });
      maps.push([p, target]);
    };
    if (isolinux) await put('isolinux.cfg', editIsolinux(isolinux, opts.node, ksArg), '/isolinux/isolinux.cfg');
    if (grub) await put('grub.cfg', editGrub(grub, opts.node, ksArg), '/EFI/BOOT/grub.cfg');
    if (efiboot && !efiboot.isDir && grub) {
      // The EFI boot image a USB stick boots from has its own copy of grub.cfg.
      const mtype = await need('mtype', 'mtools', 'the UEFI menu of a USB stick lives in images/efiboot.img, a FAT image edited with mtools');
      const img = join(opts.work, 'efiboot.img');
      await pipeline(createReadStream('', { fd: iso.fd, start: efiboot.start, end: efiboot.start + efiboot.size - 1, autoClose: false }), createWriteStream(img));
      const inner = await exec(mtype, ['-i', img, '::/EFI/BOOT/grub.cfg']).then(
        (r) => r.stdout,
        () => undefined,
      );
      if (inner !== undefined) {
        await writeFile(join(opts.work, 'efiboot-grub.cfg'), editGrub(inner, opts.node, ksArg));
        await exec(join(dirname(mtype), 'mcopy'), ['-o', '-i', img, join(opts.work, 'efiboot-grub.cfg'), '::/EFI/BOOT/grub.cfg']);
        maps.push([img, '/images/efiboot.img']);
      }
    }
    for (const a of opts.kickstart) {
      if (a.path === 'oemdrv/ks.cfg') await put('ks/ks.cfg', a.bytes, '/ks.cfg');
      else if (a.path.startsWith('oemdrv/')) await put(`ks/${a.path.slice('oemdrv/'.length)}`, a.bytes, `/${a.path.slice('oemdrv/'.length)}`);
    }
    result = { volumeId, ksArg, bios: Boolean(isolinux), uefi: Boolean(grub), efiboot: maps.some(([, t]) => t === '/images/efiboot.img') };
  } finally {
    iso.close();
  }
  const args = ['-abort_on', 'FAILURE', '-indev', opts.dvd, '-outdev', opts.output, '-boot_image', 'any', 'replay'];
  for (const [from, to] of maps) args.push('-map', from, to);
  // The bundle is streamed from its folder like the DVD; its files are the node's to read (no secret in it).
  if (opts.bundle) for (const part of ['repo', 'keys', 'images', 'bundle.json']) args.push('-map', join(opts.bundle.dir, part), `/${opts.bundle.as}/${part}`);
  // The node's secret files and kickstart: root's only inside the image too.
  const secrets = maps.filter(([, to]) => to === '/ks.cfg' || to.startsWith('/k8s-image/')).map(([, to]) => to);
  if (secrets.length) args.push('-chmod', '0600', ...secrets, '--');
  args.push('-end');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(xorriso, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-20000);
      for (const p of xorrisoProgress(d)) opts.progress?.(p);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new UserError(`xorriso could not write ${opts.output} (exit ${code}): ${err.split('\n').filter((l) => /FAILURE|SORRY|FATAL/.test(l)).slice(-3).join(' / ') || err.trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
  return result;
}
