/**
 * A small, deterministic ISO 9660 writer: ECMA-119 primary tree with Rock Ridge
 * (SUSP 1.12 / RRIP 1.10, "RRIP_1991A"), plus a Joliet supplementary tree.
 *
 * Image layout, in 2048-byte logical sectors:
 *
 *   0-15   system area (zeros)
 *   16     primary volume descriptor
 *   17     Joliet supplementary volume descriptor
 *   18     volume descriptor set terminator
 *   19-    path tables: primary L, primary M, Joliet L, Joliet M
 *          SUSP continuation areas (the root's ER entry, spilled-over NM entries)
 *          primary directories, in path table order
 *          Joliet directories, in path table order
 *          file data, in primary tree order (empty files have extent 0, length 0)
 *          zero padding up to a multiple of 32 sectors (64 KiB)
 *
 * Nothing depends on the clock, the host or map iteration order: the same
 * options always give the same bytes.
 */
import { compareIsoNames, compareJolietNames, IsoName, IsoNamer, JolietNamer, ucs2be } from './names.js';
import { DEFAULT_DIR_MODE, ValidOptions } from './types.js';

export const SECTOR = 2048;
const PVD_SECTOR = 16;
/**
 * Round the image up to a multiple of 64 KiB: libburn (xorriso) reads images in
 * 64 KiB chunks and logs short reads otherwise; three small files still make 64 KiB.
 */
const PAD_SECTORS = 32;

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const FLAG_DIRECTORY = 0x02;

interface Extent {
  sector: number;
  size: number;
}

interface FileNode {
  kind: 'file';
  name: string;
  bytes: Uint8Array;
  mode: number;
  iso: IsoName;
  joliet: string;
  extent: Extent;
}

interface DirNode {
  kind: 'dir';
  name: string;
  parent: DirNode | null;
  children: Node[];
  mode: number;
  iso: IsoName;
  joliet: string;
  isoExtent: Extent;
  jolietExtent: Extent;
}

type Node = FileNode | DirNode;
type Tree = 'iso' | 'joliet';

/** A SUSP continuation area; its place is fixed during layout. */
class ContinuationArea {
  sector = 0;
  offset = 0;
  constructor(readonly data: Buffer) {}
}

type SuItem = Buffer | ContinuationArea;

interface RecordPlan {
  ident: Buffer;
  flags: number;
  target: () => Extent;
  su: SuItem[];
  length: number;
}

// ---------------------------------------------------------------- byte helpers

function both16(buf: Buffer, off: number, v: number): void {
  buf.writeUInt16LE(v, off);
  buf.writeUInt16BE(v, off + 2);
}

function both32(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v, off);
  buf.writeUInt32BE(v, off + 4);
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** ECMA-119 9.1.5: 7-byte recording date, GMT offset 0. */
function date7(epoch: number): Buffer {
  const d = new Date(epoch * 1000);
  return Buffer.from([
    d.getUTCFullYear() - 1900,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ]);
}

/** ECMA-119 8.4.26.1: 17-byte volume descriptor date, `YYYYMMDDHHMMSScc` + GMT offset 0; null gives "not specified". */
function date17(epoch: number | null): Buffer {
  const out = Buffer.alloc(17, 0);
  if (epoch === null) {
    out.write('0000000000000000', 0, 'latin1');
    return out;
  }
  const d = new Date(epoch * 1000);
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  const s =
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1, 2) +
    p(d.getUTCDate(), 2) +
    p(d.getUTCHours(), 2) +
    p(d.getUTCMinutes(), 2) +
    p(d.getUTCSeconds(), 2) +
    '00';
  out.write(s, 0, 'latin1');
  return out;
}

// ---------------------------------------------------------------- SUSP / RRIP entries

function suspEntry(sig: string, body: Buffer): Buffer {
  const len = 4 + body.length;
  if (len > 255) throw new Error(`internal: SUSP ${sig} entry of ${len} bytes`);
  return Buffer.concat([Buffer.from([sig.charCodeAt(0), sig.charCodeAt(1), len, 1]), body]);
}

/** SUSP 5.3 SP: marks the use of SUSP, first entry of the root's "." record. */
function spEntry(): Buffer {
  return suspEntry('SP', Buffer.from([0xbe, 0xef, 0]));
}

const RRIP_ID = 'RRIP_1991A';
const RRIP_DES = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const RRIP_SRC =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

/** SUSP 5.5 ER: names the Rock Ridge extension. */
function erEntry(): Buffer {
  const id = Buffer.from(RRIP_ID, 'latin1');
  const des = Buffer.from(RRIP_DES, 'latin1');
  const src = Buffer.from(RRIP_SRC, 'latin1');
  return suspEntry('ER', Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), id, des, src]));
}

const CE_LENGTH = 28;

/** SUSP 5.1 CE: where the continuation area is. */
function ceEntry(area: ContinuationArea): Buffer {
  const body = Buffer.alloc(24);
  both32(body, 0, area.sector);
  both32(body, 8, area.offset);
  both32(body, 16, area.data.length);
  return suspEntry('CE', body);
}

/** RRIP 4.1.1 PX (RRIP 1.10 form, 36 bytes): mode, links, uid 0, gid 0. */
function pxEntry(mode: number, nlink: number): Buffer {
  const body = Buffer.alloc(32);
  both32(body, 0, mode);
  both32(body, 8, nlink);
  both32(body, 16, 0);
  both32(body, 24, 0);
  return suspEntry('PX', body);
}

/** RRIP 4.1.6 TF: modify, access and attribute-change times, short form. */
function tfEntry(epoch: number): Buffer {
  const d = date7(epoch);
  return suspEntry('TF', Buffer.concat([Buffer.from([0x02 | 0x04 | 0x08]), d, d, d]));
}

/** RRIP 4.1.4 NM: the real name (or a piece of it, flag CONTINUE). */
function nmEntry(name: Buffer, more: boolean): Buffer {
  return suspEntry('NM', Buffer.concat([Buffer.from([more ? 1 : 0]), name]));
}

function suLength(items: SuItem[]): number {
  return items.reduce((n, it) => n + (it instanceof ContinuationArea ? CE_LENGTH : it.length), 0);
}

// ---------------------------------------------------------------- tree

function buildTree(opts: ValidOptions): DirNode {
  const blankName: IsoName = { id: '', name: '', ext: '', version: 0 };
  const newDir = (name: string, parent: DirNode | null): DirNode => ({
    kind: 'dir',
    name,
    parent,
    children: [],
    mode: DEFAULT_DIR_MODE,
    iso: blankName,
    joliet: '',
    isoExtent: { sector: 0, size: 0 },
    jolietExtent: { sector: 0, size: 0 },
  });
  const root = newDir('', null);
  for (const f of opts.files) {
    let dir = root;
    for (const part of f.parts.slice(0, -1)) {
      let next = dir.children.find((c): c is DirNode => c.kind === 'dir' && c.name === part);
      if (!next) {
        next = newDir(part, dir);
        dir.children.push(next);
      }
      dir = next;
    }
    dir.children.push({
      kind: 'file',
      name: f.parts[f.parts.length - 1]!,
      bytes: f.bytes,
      mode: f.mode,
      iso: blankName,
      joliet: '',
      extent: { sector: 0, size: f.bytes.length },
    });
  }
  nameChildren(root);
  return root;
}

/** Give every child its ISO and Joliet identifiers, in the order of the real names (UTF-8 byte order). */
function nameChildren(dir: DirNode): void {
  dir.children.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  const iso = new IsoNamer();
  const joliet = new JolietNamer();
  for (const c of dir.children) {
    c.iso = iso.take(c.name, c.kind === 'dir');
    c.joliet = joliet.take(c.name, c.kind === 'dir');
    if (c.kind === 'dir') nameChildren(c);
  }
}

function sortedChildren(dir: DirNode, tree: Tree): Node[] {
  const list = [...dir.children];
  return tree === 'iso'
    ? list.sort((a, b) => compareIsoNames(a.iso, b.iso))
    : list.sort((a, b) => compareJolietNames(a.joliet, b.joliet));
}

/** Directories in path table order (ECMA-119 9.4: by level, parent number, identifier) — a breadth-first walk. */
function pathTableOrder(root: DirNode, tree: Tree): DirNode[] {
  const out: DirNode[] = [root];
  for (let i = 0; i < out.length; i++) {
    for (const c of sortedChildren(out[i]!, tree)) if (c.kind === 'dir') out.push(c);
  }
  return out;
}

function extentOf(node: Node, tree: Tree): Extent {
  if (node.kind === 'file') return node.extent;
  return tree === 'iso' ? node.isoExtent : node.jolietExtent;
}

function nlinkOf(node: Node): number {
  return node.kind === 'dir' ? 2 + node.children.filter((c) => c.kind === 'dir').length : 1;
}

function pxOf(node: Node): Buffer {
  return pxEntry((node.kind === 'dir' ? S_IFDIR : S_IFREG) | node.mode, nlinkOf(node));
}

// ---------------------------------------------------------------- records

function plan(ident: Buffer, node: Node, tree: Tree, su: SuItem[]): RecordPlan {
  let length = 33 + ident.length + (ident.length % 2 === 0 ? 1 : 0) + suLength(su);
  if (length % 2 === 1) {
    su = [...su, Buffer.alloc(1)];
    length++;
  }
  if (length > 255) throw new Error(`internal: directory record of ${length} bytes`);
  return { ident, flags: node.kind === 'dir' ? FLAG_DIRECTORY : 0, target: () => extentOf(node, tree), su, length };
}

/**
 * System use entries of a named child: PX, TF, NM. A name too long for the record
 * is split: the first piece stays inline (NM flag CONTINUE), the rest goes to a
 * continuation area referenced by CE.
 */
function childSu(node: Node, ident: Buffer, epoch: number, areas: ContinuationArea[]): SuItem[] {
  const fixed = [pxOf(node), tfEntry(epoch)];
  const name = Buffer.from(node.name, 'utf8');
  // 254: the largest even record length (records are padded to even length).
  const room = 254 - (33 + ident.length + (ident.length % 2 === 0 ? 1 : 0)) - suLength(fixed);
  if (5 + name.length <= room) return [...fixed, nmEntry(name, false)];
  const inline = room - CE_LENGTH - 5;
  const area = new ContinuationArea(nmEntry(name.subarray(inline), false));
  areas.push(area);
  return [...fixed, area, nmEntry(name.subarray(0, inline), true)];
}

function directoryRecords(dir: DirNode, tree: Tree, epoch: number, areas: ContinuationArea[]): RecordPlan[] {
  const parent = dir.parent ?? dir;
  const dot = Buffer.from([0]);
  const dotdot = Buffer.from([1]);
  if (tree === 'joliet') {
    return [
      plan(dot, dir, tree, []),
      plan(dotdot, parent, tree, []),
      ...sortedChildren(dir, tree).map((c) => plan(ucs2be(c.joliet), c, tree, [])),
    ];
  }
  const dotSu: SuItem[] = [pxOf(dir), tfEntry(epoch)];
  if (dir.parent === null) {
    const er = new ContinuationArea(erEntry());
    areas.push(er);
    dotSu.unshift(spEntry());
    dotSu.push(er);
  }
  return [
    plan(dot, dir, tree, dotSu),
    plan(dotdot, parent, tree, [pxOf(parent), tfEntry(epoch)]),
    ...sortedChildren(dir, tree).map((c) => {
      const ident = Buffer.from(c.iso.id, 'latin1');
      return plan(ident, c, tree, childSu(c, ident, epoch, areas));
    }),
  ];
}

/** ECMA-119 6.8.1.1: records never cross a sector boundary. Returns each record's offset and the directory's size. */
function packRecords(lengths: number[]): { offsets: number[]; size: number } {
  const offsets: number[] = [];
  let pos = 0;
  for (const len of lengths) {
    if ((pos % SECTOR) + len > SECTOR) pos = roundUp(pos, SECTOR);
    offsets.push(pos);
    pos += len;
  }
  return { offsets, size: Math.max(SECTOR, roundUp(pos, SECTOR)) };
}

function writeRecord(buf: Buffer, off: number, r: RecordPlan, date: Buffer): void {
  const ext = r.target();
  buf[off] = r.length;
  buf[off + 1] = 0;
  both32(buf, off + 2, ext.sector);
  both32(buf, off + 10, ext.size);
  date.copy(buf, off + 18);
  buf[off + 25] = r.flags;
  buf[off + 26] = 0;
  buf[off + 27] = 0;
  both16(buf, off + 28, 1);
  buf[off + 32] = r.ident.length;
  r.ident.copy(buf, off + 33);
  let p = off + 33 + r.ident.length + (r.ident.length % 2 === 0 ? 1 : 0);
  for (const it of r.su) {
    const bytes = it instanceof ContinuationArea ? ceEntry(it) : it;
    bytes.copy(buf, p);
    p += bytes.length;
  }
  if (p !== off + r.length) throw new Error('internal: directory record length mismatch');
}

// ---------------------------------------------------------------- path tables

function pathTable(dirs: DirNode[], tree: Tree, bigEndian: boolean): Buffer {
  const number = new Map<DirNode, number>(dirs.map((d, i) => [d, i + 1]));
  const parts: Buffer[] = [];
  for (const d of dirs) {
    const ident = d.parent === null ? Buffer.from([0]) : tree === 'iso' ? Buffer.from(d.iso.id, 'latin1') : ucs2be(d.joliet);
    const rec = Buffer.alloc(8 + ident.length + (ident.length % 2));
    rec[0] = ident.length;
    rec[1] = 0;
    const ext = extentOf(d, tree);
    const parentNo = d.parent === null ? 1 : number.get(d.parent)!;
    if (bigEndian) {
      rec.writeUInt32BE(ext.sector, 2);
      rec.writeUInt16BE(parentNo, 6);
    } else {
      rec.writeUInt32LE(ext.sector, 2);
      rec.writeUInt16LE(parentNo, 6);
    }
    ident.copy(rec, 8);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------- volume descriptors

function textField(s: string, len: number, joliet: boolean): Buffer {
  const out = Buffer.alloc(len, 0x20);
  if (joliet) {
    for (let i = 0; i < len; i++) out[i] = i % 2 === 0 ? 0x00 : 0x20;
    ucs2be(s).copy(out, 0, 0, len - (len % 2));
  } else {
    out.write(s, 0, len, 'latin1');
  }
  return out;
}

interface VdParams {
  joliet: boolean;
  label: string;
  totalSectors: number;
  pathTableSize: number;
  lSector: number;
  mSector: number;
  root: RecordPlan;
  epoch: number;
}

/** ECMA-119 8.4 (primary) and 8.5 (supplementary; Joliet when the escape sequence is `%/E`). */
function writeVolumeDescriptor(buf: Buffer, off: number, p: VdParams): void {
  const text = (s: string, at: number, len: number) => textField(s, len, p.joliet).copy(buf, off + at);
  buf[off] = p.joliet ? 2 : 1;
  buf.write('CD001', off + 1, 'latin1');
  buf[off + 6] = 1;
  buf[off + 7] = 0;
  text('', 8, 32); // system identifier
  // Volume identifier: the label byte for byte (the Joliet field holds 16 UCS-2 characters).
  text(p.joliet ? p.label.slice(0, 16) : p.label, 40, 32);
  both32(buf, off + 80, p.totalSectors);
  if (p.joliet) buf.write('%/E', off + 88, 'latin1'); // UCS-2 level 3
  both16(buf, off + 120, 1); // volume set size
  both16(buf, off + 124, 1); // volume sequence number
  both16(buf, off + 128, SECTOR);
  both32(buf, off + 132, p.pathTableSize);
  buf.writeUInt32LE(p.lSector, off + 140);
  buf.writeUInt32LE(0, off + 144);
  buf.writeUInt32BE(p.mSector, off + 148);
  buf.writeUInt32BE(0, off + 152);
  writeRecord(buf, off + 156, p.root, date7(p.epoch));
  text('', 190, 128); // volume set identifier
  text('', 318, 128); // publisher
  text('', 446, 128); // data preparer
  text('K8S-IMAGE', 574, 128); // application
  text('', 702, 37); // copyright file
  text('', 739, 37); // abstract file
  text('', 776, 37); // bibliographic file
  date17(p.epoch).copy(buf, off + 813); // creation
  date17(p.epoch).copy(buf, off + 830); // modification
  date17(null).copy(buf, off + 847); // expiration: not specified
  date17(p.epoch).copy(buf, off + 864); // effective
  buf[off + 881] = 1; // file structure version
}

function writeTerminator(buf: Buffer, off: number): void {
  buf[off] = 255;
  buf.write('CD001', off + 1, 'latin1');
  buf[off + 6] = 1;
}

// ---------------------------------------------------------------- the image

export function buildImage(opts: ValidOptions): Buffer {
  const root = buildTree(opts);
  const epoch = opts.epoch;
  const areas: ContinuationArea[] = [];

  const isoDirs = pathTableOrder(root, 'iso');
  const jolietDirs = pathTableOrder(root, 'joliet');
  const isoRecords = new Map(isoDirs.map((d) => [d, directoryRecords(d, 'iso', epoch, areas)]));
  const jolietRecords = new Map(jolietDirs.map((d) => [d, directoryRecords(d, 'joliet', epoch, areas)]));
  const isoPacks = new Map(isoDirs.map((d) => [d, packRecords(isoRecords.get(d)!.map((r) => r.length))]));
  const jolietPacks = new Map(jolietDirs.map((d) => [d, packRecords(jolietRecords.get(d)!.map((r) => r.length))]));

  // Path table sizes do not depend on extents, so they can be measured before layout.
  const isoPtSize = pathTable(isoDirs, 'iso', false).length;
  const jolietPtSize = pathTable(jolietDirs, 'joliet', false).length;

  let next = PVD_SECTOR + 3;
  const take = (bytes: number) => {
    const at = next;
    next += Math.ceil(bytes / SECTOR);
    return at;
  };
  const isoL = take(isoPtSize);
  const isoM = take(isoPtSize);
  const jolietL = take(jolietPtSize);
  const jolietM = take(jolietPtSize);

  // Continuation areas, packed like directory records: never across a sector boundary.
  const cePack = packRecords(areas.map((a) => a.data.length));
  const ceStart = take(cePack.size);
  areas.forEach((a, i) => {
    a.sector = ceStart + Math.floor(cePack.offsets[i]! / SECTOR);
    a.offset = cePack.offsets[i]! % SECTOR;
  });

  for (const d of isoDirs) {
    const size = isoPacks.get(d)!.size;
    d.isoExtent = { sector: take(size), size };
  }
  for (const d of jolietDirs) {
    const size = jolietPacks.get(d)!.size;
    d.jolietExtent = { sector: take(size), size };
  }
  const files: FileNode[] = [];
  for (const d of isoDirs) for (const c of sortedChildren(d, 'iso')) if (c.kind === 'file') files.push(c);
  for (const f of files) f.extent = { sector: f.bytes.length === 0 ? 0 : take(f.bytes.length), size: f.bytes.length };

  const totalSectors = roundUp(next, PAD_SECTORS);
  const img = Buffer.alloc(totalSectors * SECTOR);

  const rootPlan = (tree: Tree) => plan(Buffer.from([0]), root, tree, []);
  writeVolumeDescriptor(img, PVD_SECTOR * SECTOR, {
    joliet: false,
    label: opts.label,
    totalSectors,
    pathTableSize: isoPtSize,
    lSector: isoL,
    mSector: isoM,
    root: rootPlan('iso'),
    epoch,
  });
  writeVolumeDescriptor(img, (PVD_SECTOR + 1) * SECTOR, {
    joliet: true,
    label: opts.label,
    totalSectors,
    pathTableSize: jolietPtSize,
    lSector: jolietL,
    mSector: jolietM,
    root: rootPlan('joliet'),
    epoch,
  });
  writeTerminator(img, (PVD_SECTOR + 2) * SECTOR);

  pathTable(isoDirs, 'iso', false).copy(img, isoL * SECTOR);
  pathTable(isoDirs, 'iso', true).copy(img, isoM * SECTOR);
  pathTable(jolietDirs, 'joliet', false).copy(img, jolietL * SECTOR);
  pathTable(jolietDirs, 'joliet', true).copy(img, jolietM * SECTOR);

  for (const a of areas) a.data.copy(img, a.sector * SECTOR + a.offset);

  const date = date7(epoch);
  const emit = (dirs: DirNode[], records: Map<DirNode, RecordPlan[]>, packs: typeof isoPacks, tree: Tree) => {
    for (const d of dirs) {
      const base = extentOf(d, tree).sector * SECTOR;
      const offsets = packs.get(d)!.offsets;
      records.get(d)!.forEach((r, i) => writeRecord(img, base + offsets[i]!, r, date));
    }
  };
  emit(isoDirs, isoRecords, isoPacks, 'iso');
  emit(jolietDirs, jolietRecords, jolietPacks, 'joliet');

  for (const f of files) img.set(f.bytes, f.extent.sector * SECTOR);
  return img;
}
