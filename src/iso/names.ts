/**
 * File identifiers for the two directory trees of the image:
 *
 * - ISO 9660 (ECMA-119) level 1: d-characters only (A-Z 0-9 _), 8.3 names, files
 *   carry the `;1` version, directories carry neither `.` nor version.
 * - Joliet: the real name as UCS-2 big-endian, at most 64 code units, with the
 *   characters Joliet forbids replaced by `_`.
 *
 * Both namespaces are made unique per directory by deterministic mangling; the
 * caller hands the children in a fixed order (sorted by real name), so the same
 * input always gives the same identifiers.
 */

const ISO_NAME_MAX = 8;
const ISO_EXT_MAX = 3;
const JOLIET_MAX_UNITS = 64;

/** Map any string to d-characters: upper-case ASCII letters, digits and `_`. */
function toDChars(s: string): string {
  let out = '';
  for (const ch of s) out += /^[A-Za-z0-9_]$/.test(ch) ? ch.toUpperCase() : '_';
  return out;
}

export interface IsoName {
  /** The full identifier as recorded: `NAME.EXT;1` for files, `NAME` for directories. */
  id: string;
  /** Name and extension parts, for ECMA-119 9.3 ordering. */
  name: string;
  ext: string;
  version: number;
}

/** Allocates unique level-1 identifiers inside one directory. */
export class IsoNamer {
  private readonly used = new Set<string>();

  take(realName: string, isDir: boolean): IsoName {
    let stem: string;
    let ext: string;
    if (isDir) {
      stem = toDChars(realName);
      ext = '';
    } else {
      const dot = realName.lastIndexOf('.');
      if (dot > 0) {
        stem = toDChars(realName.slice(0, dot));
        ext = toDChars(realName.slice(dot + 1)).slice(0, ISO_EXT_MAX);
      } else {
        stem = toDChars(realName);
        ext = '';
      }
    }
    if (stem === '') stem = '_';
    stem = stem.slice(0, ISO_NAME_MAX);
    // Files and directories share one key space (`NAME.EXT`), so that a reader that
    // strips `;1` and a trailing dot never shows two entries with the same name.
    let candidate = stem;
    for (let n = 1; this.used.has(candidate + '.' + ext); n++) {
      const suffix = String(n);
      candidate = stem.slice(0, ISO_NAME_MAX - suffix.length) + suffix;
    }
    this.used.add(candidate + '.' + ext);
    return isDir
      ? { id: candidate, name: candidate, ext: '', version: 0 }
      : { id: `${candidate}.${ext};1`, name: candidate, ext, version: 1 };
  }
}

function padCompare(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0x20;
    const cb = i < b.length ? b.charCodeAt(i) : 0x20;
    if (ca !== cb) return ca - cb;
  }
  return 0;
}

/** ECMA-119 9.3: by name (space padded), then extension (space padded), then version descending. */
export function compareIsoNames(a: IsoName, b: IsoName): number {
  return padCompare(a.name, b.name) || padCompare(a.ext, b.ext) || b.version - a.version;
}

/** Characters Joliet does not allow in identifiers. */
const JOLIET_FORBIDDEN = /[*/:;?\\]/g;

/** Truncate to at most `max` UTF-16 code units without splitting a surrogate pair. */
function truncateUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max;
  const last = s.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return s.slice(0, cut);
}

/** Allocates unique Joliet identifiers inside one directory (no `;1` version: readers look files up by the plain name). */
export class JolietNamer {
  private readonly used = new Set<string>();

  take(realName: string, isDir: boolean): string {
    const clean = realName.replace(JOLIET_FORBIDDEN, '_');
    let stem = clean;
    let ext = '';
    const dot = clean.lastIndexOf('.');
    if (!isDir && dot > 0 && clean.length - dot <= 16) {
      stem = clean.slice(0, dot);
      ext = clean.slice(dot);
    }
    // Over-long names keep their extension: the stem is cut, then `_N` added on collision.
    const fit = (suffix: string) =>
      clean.length + suffix.length <= JOLIET_MAX_UNITS
        ? stem + suffix + ext
        : truncateUnits(stem, JOLIET_MAX_UNITS - suffix.length - ext.length) + suffix + ext;
    let candidate = fit('');
    for (let n = 1; this.used.has(candidate); n++) candidate = fit('_' + String(n));
    this.used.add(candidate);
    return candidate;
  }
}

/** UCS-2 (UTF-16) big-endian bytes of a string. */
export function ucs2be(s: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  b.swap16();
  return b;
}

/** Byte order of the UCS-2 BE identifiers (what Joliet readers binary-search on). */
export function compareJolietNames(a: string, b: string): number {
  return Buffer.compare(ucs2be(a), ucs2be(b));
}
