/** One output file. `secret` artifacts hold key material or the join token: written 0600, listed in the summary. */
export interface Artifact {
  path: string;
  bytes: Uint8Array;
  mode: number;
  secret: boolean;
}

/**
 * A file's text, whole or in pieces. A piece already encoded (text every node of a farm shares, from
 * sharedBytes) is copied as it is: a farm's kickstarts and user-data are mostly the same scripts,
 * and encoding them again for each node was a tenth of the render time.
 */
export type Text = string | readonly (string | Uint8Array)[];

const encoder = new TextEncoder();

export function encodeText(text: Text): Uint8Array {
  if (typeof text === 'string') return encoder.encode(text);
  const parts = text.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
  return Buffer.concat(parts);
}

export function textArtifact(path: string, text: Text, secret = false, mode?: number): Artifact {
  return { path, bytes: encodeText(text), mode: mode ?? (secret ? 0o600 : 0o644), secret };
}

/**
 * The UTF-8 bytes of a text many nodes share (a node file's shell or YAML form), encoded once per
 * process. Keyed by the string itself: the same string object hashes once (V8 keeps the hash).
 */
export function sharedBytes(text: string): Uint8Array {
  let bytes = shared.get(text);
  if (bytes === undefined) {
    if (shared.size >= 1024) shared.clear();
    shared.set(text, (bytes = encoder.encode(text)));
    sharedSet.add(bytes);
  }
  return bytes;
}
const shared = new Map<string, Uint8Array>();
const sharedSet = new WeakSet<Uint8Array>();

/** Whether these bytes are sharedBytes' (kept for every node: never to be handed away). */
export const isShared = (bytes: Uint8Array): boolean => sharedSet.has(bytes);
