/**
 * The request target, checked before anything is looked up. Strict, as Go's net/http and other
 * mature static servers are: the path that is checked is the path that is opened, so anything a
 * normaliser would have to rewrite is refused (400) instead of rewritten: encoded slashes and
 * backslashes, raw backslashes, dot-segments (raw or encoded), empty segments (`//`), NULs and
 * other control characters, percent-encodings that are not UTF-8 (overlong `%c0%af`). No client
 * of ours (curl in %pre, anaconda, iPXE, GRUB, cloud-init) sends any of these.
 */

export type Target = { path: string } | { problem: string };

/** What RFC 3986 allows raw in a path: unreserved, sub-delims, ':', '@', '/', and '%' for escapes. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

export function parseTarget(raw: string): Target {
  let rest = raw;
  // Absolute form (`GET http://host/path`, as proxies send): one site here, so the authority is
  // ignored and the path goes through the same checks as any other.
  const abs = /^https?:\/\/[^/?#]*(.*)$/i.exec(raw);
  if (abs) rest = abs[1]!.startsWith('/') ? abs[1]! : `/${abs[1]!}`;
  else if (!raw.startsWith('/')) return { problem: 'the request target is neither a path nor an http:// URL' };
  const q = rest.indexOf('?');
  const p = q < 0 ? rest : rest.slice(0, q);
  if (!PATH_CHARS.test(p)) return { problem: 'a character that is not allowed raw in a path (backslash, space, quote, #, control or non-ASCII)' };
  if (/%(?![0-9A-Fa-f]{2})/.test(p)) return { problem: 'a % not followed by two hex digits' };
  if (/%(2f|5c)/i.test(p)) return { problem: 'an encoded / or \\ (%2F, %5C)' };
  let path: string;
  try {
    path = decodeURIComponent(p);
  } catch {
    return { problem: 'percent-encoding that is not UTF-8 (an overlong or cut sequence)' };
  }
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return { problem: 'a NUL, control character or backslash' };
  const segs = path.split('/');
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '.' || s === '..') return { problem: 'a . or .. segment' };
    if (s === '' && i < segs.length - 1) return { problem: 'an empty segment (//)' };
  }
  return { path };
}
