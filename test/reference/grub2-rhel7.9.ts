/**
 * Checks a GRUB script against CentOS 7.9's signed grubx64.efi (grub2-rhel7.9.json, provenance in
 * README.md here): every command it runs (the first word of each simple command, inside
 * menuentry/submenu bodies, if/while/for/function blocks too) must be one the image registers.
 * A small tokenizer of GRUB's script syntax (grub-core/script/yylex.l): quotes, backslashes,
 * comments, `;`, newlines, `{ }`, `&&`/`||`, and the reserved words; grub-script-check runs first,
 * so it only has to handle scripts GRUB parses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';

export interface GrubReference {
  image_modules: string[];
  commands: string[];
  script_keywords: string[];
  not_registered: Record<string, string>;
}

export const grubReference: GrubReference = JSON.parse(readFileSync(join(packageRoot, 'test', 'reference', 'grub2-rhel7.9.json'), 'utf8')) as GrubReference;

type Token = { text: string; quoted: boolean } | { op: string };

function tokenize(script: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i]!;
    if (c === '\n' || c === ';') {
      out.push({ op: ';' });
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '\\' && script[i + 1] === '\n') i += 2;
    else if (c === '#') {
      while (i < n && script[i] !== '\n') i++;
    } else if ((c === '&' || c === '|') && script[i + 1] === c) {
      out.push({ op: ';' });
      i += 2;
    } else if (c === '|' || c === '&' || c === '<' || c === '>') {
      throw new Error(`GRUB script: unsupported operator ${c} at ${i}`);
    } else {
      // A word: runs of unquoted, '...' and "..." text; `{` and `}` alone are words too.
      let text = '';
      let quoted = false;
      while (i < n) {
        const d = script[i]!;
        if (d === "'") {
          const end = script.indexOf("'", i + 1);
          if (end < 0) throw new Error('GRUB script: unterminated single quote');
          text += script.slice(i + 1, end);
          quoted = true;
          i = end + 1;
        } else if (d === '"') {
          let j = i + 1;
          while (j < n && script[j] !== '"') j += script[j] === '\\' ? 2 : 1;
          if (j >= n) throw new Error('GRUB script: unterminated double quote');
          text += script.slice(i + 1, j);
          quoted = true;
          i = j + 1;
        } else if (d === '\\') {
          text += script[i + 1] ?? '';
          i += 2;
        } else if (/[\s;&|<>]/.test(d)) break;
        else {
          text += d;
          i++;
        }
      }
      out.push({ text, quoted });
    }
  }
  return out;
}

/** The commands a GRUB script runs, in order (reserved words and `{ }` left out). */
export function grubCommands(script: string): string[] {
  const cmds: string[] = [];
  const keywords = new Set(grubReference.script_keywords);
  // Words after which a new command starts; `in` is followed by the for-loop's word list.
  const starters = new Set(['then', 'else', 'do', 'if', 'elif', 'while', 'until', '!', '{', '}']);
  let atStart = true;
  let skipToSeparator = false;
  for (const t of tokenize(script)) {
    if ('op' in t) {
      atStart = true;
      skipToSeparator = false;
      continue;
    }
    if (skipToSeparator) {
      // The body of `menuentry ... {` / `submenu ... {` / `function f {` starts after its `{`.
      if (!t.quoted && t.text === '{') {
        atStart = true;
        skipToSeparator = false;
      }
      continue;
    }
    if (!atStart) continue;
    if (!t.quoted && keywords.has(t.text)) {
      if (t.text === 'for' || t.text === 'function') skipToSeparator = true;
      atStart = starters.has(t.text);
      continue;
    }
    cmds.push(t.text);
    atStart = false;
    if (t.text === 'menuentry' || t.text === 'submenu') skipToSeparator = true;
  }
  return cmds;
}

/** Commands of `script` that CentOS 7.9's signed GRUB does not register (empty: it can run them all). */
export function unknownGrubCommands(script: string): string[] {
  const known = new Set(grubReference.commands);
  return [...new Set(grubCommands(script).filter((c) => !known.has(c) && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(c)))];
}
