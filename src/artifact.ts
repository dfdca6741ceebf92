/** One output file. `secret` artifacts hold key material or the join token: written 0600, listed in the summary. */
export interface Artifact {
  path: string;
  bytes: Uint8Array;
  mode: number;
  secret: boolean;
}

export function textArtifact(path: string, text: string, secret = false, mode?: number): Artifact {
  return { path, bytes: new TextEncoder().encode(text), mode: mode ?? (secret ? 0o600 : 0o644), secret };
}
