/**
 * Helping a user find a problem in a big cluster.yaml: the line a field path is on, a "did you mean"
 * for a misspelt field, and warnings that repeat per node folded into one line each.
 */
import yaml from 'js-yaml';
import { FIELD_DOCS } from './field-docs.js';

interface YamlNode {
  kind: string | null;
  result: unknown;
  /** 0-based line where the parser was when this node closed (a scalar key's own line). */
  endLine: number;
  /** 0-based line where the parser was when it opened (may be the line before a block value). */
  startLine: number;
  children: YamlNode[];
}

/**
 * Where each value of a YAML text is, from a second parse with js-yaml's listener (js-yaml keeps no
 * positions in its result). Returns a lookup from a field path to its 1-based line, or undefined
 * where the structure is not plain (aliases, merge keys, explicit keys).
 */
export function yamlLines(text: string): (path: (string | number)[]) => number | undefined {
  const stack: { startLine: number; children: YamlNode[] }[] = [{ startLine: 0, children: [] }];
  try {
    yaml.load(text, {
      listener(event, state) {
        if (event === 'open') stack.push({ startLine: state.line, children: [] });
        else {
          const frame = stack.pop()!;
          stack[stack.length - 1]!.children.push({ kind: state.kind, result: state.result, endLine: state.line, startLine: frame.startLine, children: frame.children });
        }
      },
    });
  } catch {
    return () => undefined;
  }
  // composeNode nests: a flow collection closes twice, the outer with the same result as the inner.
  const unwrap = (n: YamlNode): YamlNode => (n.children.length === 1 && n.children[0]!.result === n.result && n.result !== null && typeof n.result === 'object' ? unwrap(n.children[0]!) : n);
  const root = stack[0]!.children[0];
  return (path) => {
    if (!root) return undefined;
    let node = unwrap(root);
    let line: number | undefined;
    for (const p of path) {
      if (node.kind === 'mapping') {
        if (node.children.length % 2 !== 0) return line;
        let hit: YamlNode | undefined;
        for (let i = 0; i < node.children.length; i += 2) {
          const key = node.children[i]!;
          if (String(key.result) === String(p)) {
            line = key.endLine + 1;
            hit = node.children[i + 1]!;
          }
        }
        if (!hit) return line;
        node = unwrap(hit);
      } else if (node.kind === 'sequence' && typeof p === 'number' && node.children.length === (node.result as unknown[]).length) {
        const item = unwrap(node.children[p]!);
        if (!item) return line;
        // A block mapping item: the line of its first key; anything else: where it closed.
        line = item.kind === 'mapping' && item.children.length ? item.children[0]!.endLine + 1 : item.endLine + 1;
        node = item;
      } else return line;
    }
    return line;
  };
}

/** The leading field path of a problem ("nodes[12].ip: ..."), as path segments. */
export function problemPath(problem: string): (string | number)[] | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\[[0-9]+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): /.exec(problem);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]/g)].map((s) => (s[2] !== undefined ? Number(s[2]) : s[1]!));
}

/** "nodes[500].ip: ..." gets " (line 2003)" at its end where the field is found in the text (the path stays first: tools and scripts match on it). */
export function withLines(problems: string[], text: string, paths: ((string | number)[] | undefined)[] = []): string[] {
  const lineOf = yamlLines(text);
  return problems.map((p, i) => {
    const path = paths[i] ?? problemPath(p);
    const line = path && path.length ? lineOf(path) : undefined;
    return line === undefined ? p : `${p} (line ${line})`;
  });
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The fields allowed beside an unknown one at this path (from the documented field list). */
export function fieldsAt(path: (string | number)[]): string[] {
  const parent = path.map((p) => (typeof p === 'number' ? '[]' : p)).join('.').replace(/\.\[\]/g, '[]');
  const prefix = parent === '' ? '' : `${parent}.`;
  return Object.keys(FIELD_DOCS)
    .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('.'))
    .map((k) => k.slice(prefix.length))
    .filter((k) => k !== '' && !k.includes('['));
}

/** The allowed field closest to a misspelt one (same letters in another case, or at most 1-2 edits), if any. */
export function didYouMean(word: string, allowed: string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of allowed) {
    const d = name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase());
    if (d <= Math.max(1, Math.min(2, Math.floor(name.length / 4))) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** How many nodes a folded warning lists by index before "and N more". */
const SHOWN = 3;

/**
 * Warnings that differ only in their node index ("nodes[7].cpus: 1 is below ...") become one line
 * naming how many nodes and the first few: a 1000-node farm gets one line, not a thousand.
 */
export function foldWarnings(warnings: string[]): string[] {
  const groups = new Map<string, { first: number; indexes: number[] }>();
  const out: (string | { key: string })[] = [];
  warnings.forEach((w, i) => {
    const m = /^nodes\[([0-9]+)\]/.exec(w);
    const key = m && !/nodes\[[0-9]+\]/.test(w.slice(m[0].length)) ? w.replace(/^nodes\[[0-9]+\]/, 'nodes[*]') : undefined;
    if (!key) return void out.push(w);
    const g = groups.get(key);
    if (g) g.indexes.push(Number(m![1]));
    else {
      groups.set(key, { first: i, indexes: [Number(m![1])] });
      out.push({ key });
    }
  });
  return out.map((o) => {
    if (typeof o === 'string') return o;
    const { indexes } = groups.get(o.key)!;
    if (indexes.length === 1) return o.key.replace('nodes[*]', `nodes[${indexes[0]}]`);
    const shown = indexes.slice(0, SHOWN).map((n) => `nodes[${n}]`).join(', ');
    const more = indexes.length > SHOWN ? ` and ${indexes.length - SHOWN} more` : '';
    return `${o.key} (${indexes.length} nodes: ${shown}${more})`;
  });
}
