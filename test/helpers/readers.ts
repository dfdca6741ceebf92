/**
 * Checks of rendered output against real readers (cloud-init, bash, shellcheck) and against the
 * reference grammar in test/reference/ (kickstart-rhel7.json, kubeadm-api.json,
 * cloud-init-centos7.md). Other tests call these; test/helpers-selftest/ proves that they catch errors.
 *
 * Every check returns a list of problems (empty = OK). A missing tool throws an Error naming the
 * Debian package to install: a test must fail, never skip, when its reader is absent.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { requireTool } from './tools.js';
import { tempDir } from './tmp.js';

/** The reference data, kept in the repository (test/reference/README.md gives its provenance). */
export const referenceDir: string = join(packageRoot, 'test', 'reference');

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Run a tool from a neutral directory (so no project file shadows a Python module) with a C.UTF-8 locale. */
async function runTool(cmd: string, args: string[], input?: string): Promise<RunResult> {
  const bin = requireTool(cmd);
  // No PYTHONPATH/PYTHONHOME: the Debian tools must see only Debian's Python packages.
  const env: Record<string, string | undefined> = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', TZ: 'UTC', PYTHONDONTWRITEBYTECODE: '1' };
  delete env['PYTHONPATH'];
  delete env['PYTHONHOME'];
  const r = await execa(bin, args, {
    cwd: tmpdir(),
    env,
    extendEnv: false,
    reject: false,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
  });
  if (r.failed && r.exitCode === undefined) throw new Error(`${cmd} could not be run: ${r.message}`);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir(prefix);
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function nonEmptyLines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
}

function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(referenceDir, name), 'utf8')) as T;
}

// ---------------------------------------------------------------------------------------------
// Kickstart (kickstart-rhel7.json)
// ---------------------------------------------------------------------------------------------

interface KsOption {
  names: string[];
  value: 'none' | 'required' | 'optional' | string;
  in: string[];
  type?: string;
  choices?: string[];
  required?: boolean;
  deprecated_since?: string;
  removed_since?: string;
}

interface KsPositional {
  dest: string;
  value: string;
  required?: boolean;
  choices?: string[];
}

interface KsCommand {
  status: 'active' | 'deprecated' | 'removed' | string;
  valid_on_centos7_9: boolean;
  same_class_as?: string[];
  options: KsOption[] | null;
  'positional_3.74'?: KsPositional[];
  in_pykickstart_3_74_RHEL7?: boolean;
}

interface KsSection {
  valid_on_centos7_9: boolean;
  options: KsOption[] | null;
  note?: string;
}

interface KsReference {
  commands: Record<string, KsCommand>;
  sections: Record<string, KsSection>;
  rhel7_command_changes: Record<string, unknown>;
}

let ksRef: KsReference | undefined;
function kickstartReference(): KsReference {
  return (ksRef ??= readJson<KsReference>('kickstart-rhel7.json'));
}

/** The pykickstart release CentOS 7.9 anaconda parses with; options defined only in 3.74 are not accepted there. */
const CENTOS79_PYKICKSTART = '1.99.66.22';

/** Commands that may appear more than once in one kickstart. Everything else is single-use. */
const MULTI_USE_COMMANDS = new Set([
  'network', 'part', 'partition', 'sshkey', 'repo', 'user', 'group', 'logvol', 'raid', 'volgroup',
  'btrfs', 'sshpw', 'zfcp', 'fcoe', 'iscsi', 'driverdisk', 'mount', 'snapshot', 'nvdimm',
]);

/**
 * Commands that take no positional arguments in either pykickstart release ("does not take any
 * arguments"). Other commands without a 3.74 positional list may still read extra arguments by hand.
 */
const NO_POSITIONAL_COMMANDS = new Set([
  'text', 'graphical', 'cmdline', 'cdrom', 'zerombr', 'reboot', 'poweroff', 'halt', 'shutdown', 'skipx',
  'selinux', 'firewall', 'services', 'network', 'bootloader', 'clearpart', 'reqpart', 'ignoredisk',
  'firstboot', 'eula', 'autopart', 'url', 'repo', 'user', 'group', 'logging', 'install', 'mediacheck',
  'unsupported_hardware', 'autostep', 'liveimg', 'vnc',
]);

/** Directives accepted outside sections (they take one path or URL argument). */
const KS_DIRECTIVES = new Set(['%include', '%ksappend']);

/** Values pykickstart's ksboolean type accepts. */
const KS_BOOLEANS = new Set(['on', 'off', 'yes', 'no', 'true', 'false', '1', '0']);

/**
 * Split a line like Python's shlex.split(line, comments=True) in POSIX mode (what pykickstart does):
 * whitespace separates tokens, '…' and "…" quote, backslash escapes outside single quotes, and an
 * unquoted # starts a comment (even in the middle of a word). Throws on an unclosed quote.
 */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (inToken) tokens.push(token);
      token = '';
      inToken = false;
      i++;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      token += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          token += line[i + 1];
          i += 2;
          continue;
        }
        token += d;
        i++;
      }
      if (!closed) throw new Error('No closing quotation');
      inToken = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('No escaped character');
      token += line[i + 1];
      inToken = true;
      i += 2;
    } else {
      token += c;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(token);
  return tokens;
}

/** The canonical name of a command's class, so aliases (part/partition, reboot/poweroff, text/graphical) count together. */
function commandClass(name: string, cmd: KsCommand): string {
  return [name, ...(cmd.same_class_as ?? [])].sort()[0]!;
}

/**
 * Check the options (and for commands, the positionals) after the first token of a command or section
 * header line. `what` names the command or header in messages.
 */
function checkOptions(
  what: string,
  args: string[],
  options: KsOption[],
  positional: KsPositional[] | undefined,
  allowPositionals: boolean,
): string[] {
  const problems: string[] = [];
  const byName = new Map<string, KsOption>();
  for (const o of options) for (const n of o.names) byName.set(n, o);
  const seen = new Set<KsOption>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const opt = byName.get(name);
    if (opt === undefined) {
      problems.push(`${what}: unknown option ${name}`);
      continue;
    }
    seen.add(opt);
    if (!opt.in.includes(CENTOS79_PYKICKSTART)) {
      problems.push(`${what}: option ${name} is not known to CentOS 7.9's pykickstart ${CENTOS79_PYKICKSTART} (only in ${opt.in.join(', ')})`);
    }
    if (opt.removed_since) problems.push(`${what}: option ${name} was removed in ${opt.removed_since}`);
    if (opt.deprecated_since) problems.push(`${what}: option ${name} is deprecated since ${opt.deprecated_since}`);
    if (opt.value === 'none') {
      if (value !== undefined) problems.push(`${what}: option ${name} is a flag and takes no value (got "${value}")`);
      continue;
    }
    if (opt.value === 'required') {
      if (value === undefined) {
        const next = args[i + 1];
        if (next === undefined || next.startsWith('--')) {
          problems.push(`${what}: option ${name} requires a value`);
          continue;
        }
        value = next;
        i++;
      }
    } else if (opt.value === 'optional') {
      // --opt or --opt=value; a separate token would be ambiguous, so only the = form carries a value.
    } else {
      // list(*) and other shapes: take following non-option tokens.
      while (value === undefined && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) {
        i++;
      }
    }
    if (value === undefined) continue;
    if (opt.choices && opt.choices.length > 0 && !opt.choices.includes(value)) {
      problems.push(`${what}: option ${name} value "${value}" is not one of ${opt.choices.join(', ')}`);
    }
    if (opt.type === 'int' && !/^[+-]?\d+$/.test(value)) {
      problems.push(`${what}: option ${name} needs an integer (got "${value}")`);
    }
    if (opt.type === 'ksboolean' && !KS_BOOLEANS.has(value.toLowerCase())) {
      problems.push(`${what}: option ${name} needs a boolean (on/off/yes/no/true/false/1/0), got "${value}"`);
    }
  }
  for (const o of options) {
    if (o.required && !seen.has(o)) problems.push(`${what}: required option ${o.names.join('/')} is missing`);
  }
  if (!allowPositionals && positionals.length > 0) {
    problems.push(`${what}: unexpected argument(s) ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  } else if (positional !== undefined) {
    // 3.74's argparse positionals: count:1 takes exactly one token; choices restrict it.
    const counts = positional.map((p) => p.value);
    if (counts.length === 1 && counts[0] === 'count:1' && positionals.length > 1) {
      problems.push(`${what}: takes one argument, got ${positionals.length}: ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
    }
    const first = positional[0];
    if (first?.choices && positionals[0] !== undefined && !first.choices.includes(positionals[0])) {
      problems.push(`${what}: argument "${positionals[0]}" is not one of ${first.choices.join(', ')}`);
    }
  }
  return problems;
}

/**
 * Check a kickstart against the RHEL7 grammar CentOS 7.9's anaconda parses (kickstart-rhel7.json,
 * the four rules of the reference README). Returns problems, each as `line N: <problem>: <line>`.
 *
 * - commands: known, valid on CentOS 7.9, not removed, not deprecated; single-use commands (by class,
 *   so `reboot` + `poweroff` count as a repeat) at most once;
 * - options: known for the command (aliases included), not 3.74-only, not deprecated/removed;
 *   flags without a value, `required` options with one (`--opt=v` or `--opt v`), choices, int and
 *   ksboolean types; options marked required present; unexpected positionals where the command
 *   takes none (per 3.74);
 * - section headers: known and valid on CentOS 7.9 (`%certificate` is not), options from
 *   sections.<h>.options, every section closed by `%end`; body lines are not checked as commands;
 * - quoting as shlex.split(comments=True); an unclosed quote is a problem.
 */
export function checkKickstart(ksText: string): string[] {
  const ref = kickstartReference();
  const rhel6Only = new Set(
    ((ref.rhel7_command_changes['not_in_rhel7_but_in_rhel6 (Unknown command error)'] as string[] | undefined) ?? []).map((s) => s.split(' ')[0]!),
  );
  const problems: string[] = [];
  const lines = ksText.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seenClasses = new Map<string, number>();
  let open: { header: string; line: number } | null = null;

  const report = (n: number, line: string, msg: string): void => {
    problems.push(`line ${n}: ${msg}: ${line}`);
  };

  const checkHeader = (n: number, line: string, args: string[]): void => {
    const header = args[0]!;
    const sec = ref.sections[header];
    if (sec === undefined) {
      report(n, line, `unknown section ${header}`);
    } else if (!sec.valid_on_centos7_9) {
      report(n, line, `section ${header} is not valid on CentOS 7.9${sec.note ? ` (${sec.note})` : ''}`);
    } else if (sec.options !== null) {
      for (const p of checkOptions(header, args.slice(1), sec.options, undefined, false)) report(n, line, p);
    }
    open = { header, line: n };
  };

  lines.forEach((line, idx) => {
    const n = idx + 1;
    if (open !== null) {
      const first = line.trim().split(/\s+/)[0] ?? '';
      if (first === '%end') {
        open = null;
        return;
      }
      // pykickstart _readSection: line.lstrip().startswith('%') and the word is %end, %include or a
      // section header ends the script there; preprocessKickstart strips each line before %ksappend.
      if (first === '%include' || first === '%ksappend') {
        report(n, line, `${first} inside section ${open.header} (opened on line ${open.line}): pykickstart ends the section there (its body lines are matched after lstrip)`);
        return;
      }
      if (first.startsWith('%') && ref.sections[first] !== undefined) {
        report(open.line, lines[open.line - 1]!, `section ${open.header} is not closed by %end before line ${n}`);
        let args: string[];
        try {
          args = shlexSplit(line);
        } catch (e) {
          report(n, line, `cannot split: ${(e as Error).message}`);
          args = [first];
        }
        checkHeader(n, line, args);
      }
      return; // a body line: script or package list, not a command
    }
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    let args: string[];
    try {
      args = shlexSplit(line);
    } catch (e) {
      report(n, line, `cannot split: ${(e as Error).message}`);
      return;
    }
    if (args.length === 0) return;
    const first = args[0]!;
    if (first.startsWith('%')) {
      if (first === '%end') {
        report(n, line, '%end without an open section');
      } else if (KS_DIRECTIVES.has(first)) {
        if (args.length !== 2) report(n, line, `${first} takes exactly one path or URL`);
      } else {
        checkHeader(n, line, args);
      }
      return;
    }
    const cmd = Object.hasOwn(ref.commands, first) ? ref.commands[first] : undefined;
    if (cmd === undefined) {
      report(n, line, rhel6Only.has(first) ? `unknown command ${first} (a RHEL6 command removed in RHEL7)` : `unknown command ${first}`);
      return;
    }
    if (!cmd.valid_on_centos7_9) report(n, line, `command ${first} is not valid on CentOS 7.9`);
    if (cmd.status === 'removed') report(n, line, `command ${first} is removed in RHEL7`);
    else if (cmd.status === 'deprecated') report(n, line, `command ${first} is deprecated in RHEL7 (ignored with a warning)`);
    else if (cmd.status !== 'active') report(n, line, `command ${first} has status ${cmd.status}`);

    const cls = commandClass(first, cmd);
    if (!MULTI_USE_COMMANDS.has(first)) {
      const before = seenClasses.get(cls);
      if (before !== undefined) report(n, line, `command ${first} repeats line ${before} (single-use command)`);
      else seenClasses.set(cls, n);
    }

    const positional = cmd['positional_3.74'];
    // auth/authconfig and realm hand their whole tail to another program: no option grammar to check.
    if (positional?.some((p) => p.dest === 'options')) return;
    // Positionals are checked by hand in 1.99 and some 3.74 parsers take them as "extra" arguments
    // (btrfs, device, ...), so only flag them for commands known to take none.
    const allowPositionals = positional !== undefined || !NO_POSITIONAL_COMMANDS.has(first);
    for (const p of checkOptions(first, args.slice(1), cmd.options ?? [], positional, allowPositionals)) report(n, line, p);
  });
  if (open !== null) {
    const o = open as { header: string; line: number };
    report(o.line, lines[o.line - 1]!, `section ${o.header} is not closed by %end`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// kubeadm config (kubeadm-api.json)
// ---------------------------------------------------------------------------------------------

interface KField {
  type: string;
  fields?: Record<string, KField>;
  items?: Record<string, KField>;
  values?: Record<string, KField>;
}

interface KubeadmReference {
  kubeadm: Record<string, { kinds?: Record<string, Record<string, KField>>; paths?: Record<string, string[]>; served_by_kubeadm?: string }>;
  'kubelet.config.k8s.io/v1beta1': Record<string, { fields: Record<string, KField>; paths: string[] }>;
  'kubeproxy.config.k8s.io/v1alpha1': Record<string, { fields: Record<string, KField>; paths: string[] }>;
}

let kubeRef: KubeadmReference | undefined;
function kubeadmReference(): KubeadmReference {
  return (kubeRef ??= readJson<KubeadmReference>('kubeadm-api.json'));
}

/** Which Kubernetes minors serve each kubeadm apiVersion (reference README table; max undefined = still served). */
const KUBEADM_SERVED: Record<string, { min: number; max?: number }> = {
  'kubeadm.k8s.io/v1beta1': { min: 13, max: 21 },
  'kubeadm.k8s.io/v1beta2': { min: 15, max: 25 },
  'kubeadm.k8s.io/v1beta3': { min: 22 },
  'kubeadm.k8s.io/v1beta4': { min: 31 },
};

const DURATION_RE = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

function parseVersion(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  if (!m) throw new Error(`not a Kubernetes version: ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function compareVersions(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The reference tag closest at or below the target (the oldest tag when the target is older than all). */
function pickTag(tags: string[], target: [number, number, number]): string {
  const sorted = [...tags].sort((x, y) => compareVersions(parseVersion(x), parseVersion(y)));
  let pick = sorted[0]!;
  for (const t of sorted) if (compareVersions(parseVersion(t), target) <= 0) pick = t;
  return pick;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Check one scalar against a Go type from the reference; returns a problem or null. */
function scalarProblem(path: string, type: string, v: unknown): string | null {
  if (v === null) return null; // null = field left at its default
  if (type === 'string' || type === 'time') return typeof v === 'string' ? null : `${path}: expected a string, got ${describe(v)}`;
  if (type === 'bool') return typeof v === 'boolean' ? null : `${path}: expected a boolean, got ${describe(v)}`;
  if (/^u?int(8|16|32|64)?$/.test(type)) {
    return typeof v === 'number' && Number.isInteger(v) ? null : `${path}: expected an integer (${type}), got ${describe(v)}`;
  }
  if (/^float(32|64)$/.test(type)) return typeof v === 'number' ? null : `${path}: expected a number (${type}), got ${describe(v)}`;
  if (type === 'duration') {
    if (typeof v !== 'string') return `${path}: expected a duration string, got ${describe(v)}`;
    return v === '0' || DURATION_RE.test(v) ? null : `${path}: "${v}" is not a Go duration (${DURATION_RE.source})`;
  }
  if (type === 'quantity') return typeof v === 'string' || typeof v === 'number' ? null : `${path}: expected a resource quantity, got ${describe(v)}`;
  return null;
}

/**
 * Walk a YAML value against a reference field tree, collecting the flattened paths (`[]` for list
 * items, `{}` for map values) and type problems. Below map-typed fields (type map[...] without a
 * `values` tree: featureGates, extraArgs in v1beta2/3, evictionHard, ...) only the value types are
 * checked; no paths are emitted.
 */
function walkTree(node: unknown, tree: Record<string, KField>, prefix: string, paths: string[], problems: string[]): void {
  if (!isMapping(node)) {
    problems.push(`${prefix || '(document)'}: expected a mapping, got ${describe(node)}`);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    paths.push(path);
    const f = tree[key];
    if (f === undefined) continue; // reported by the path check
    walkField(value, f, path, paths, problems);
  }
}

function walkField(value: unknown, f: KField, path: string, paths: string[], problems: string[]): void {
  if (value === null) return;
  const t = f.type;
  if (t === 'object' || f.fields) {
    if (f.fields) walkTree(value, f.fields, path, paths, problems);
    else if (!isMapping(value)) problems.push(`${path}: expected a mapping, got ${describe(value)}`);
    return;
  }
  if (t.startsWith('[]')) {
    if (!Array.isArray(value)) {
      problems.push(`${path}: expected a list (${t}), got ${describe(value)}`);
      return;
    }
    const elem = t.slice(2);
    value.forEach((item, i) => {
      if (f.items || elem === 'object') {
        if (!isMapping(item)) problems.push(`${path}[${i}]: expected a mapping, got ${describe(item)}`);
        else if (f.items) walkTree(item, f.items, `${path}[]`, paths, problems);
      } else {
        const p = scalarProblem(`${path}[${i}]`, elem, item);
        if (p) problems.push(p);
      }
    });
    return;
  }
  const map = /^map\[([^\]]+)\](.*)$/.exec(t);
  if (map) {
    if (!isMapping(value)) {
      problems.push(`${path}: expected a mapping (${t}), got ${describe(value)}`);
      return;
    }
    const valueType = map[2]!;
    for (const [k, v] of Object.entries(value)) {
      if (f.values) {
        if (!isMapping(v)) problems.push(`${path}.${k}: expected a mapping, got ${describe(v)}`);
        else walkTree(v, f.values, `${path}{}`, paths, problems);
      } else if (valueType.startsWith('[]')) {
        if (!Array.isArray(v)) problems.push(`${path}.${k}: expected a list (${valueType}), got ${describe(v)}`);
        else v.forEach((x, i) => {
          const p = scalarProblem(`${path}.${k}[${i}]`, valueType.slice(2), x);
          if (p) problems.push(p);
        });
      } else {
        const p = scalarProblem(`${path}.${k}`, valueType, v);
        if (p) problems.push(p);
      }
    }
    return;
  }
  const p = scalarProblem(path, t, value);
  if (p) problems.push(p);
}

/**
 * Check a (multi-document) kubeadm config against kubeadm-api.json for a target Kubernetes version:
 * apiVersion served by that kubeadm, kind known for the apiVersion, every flattened key path in
 * paths.<Kind>, KubeletConfiguration/KubeProxyConfiguration against the reference tag at or below the
 * version, and value types from the kinds tree (durations, ints, bools, strings, lists of mappings,
 * v1beta4 extraArgs as a list of {name, value}). Returns problems, each prefixed `doc N (Kind):`.
 */
export function kubeadmConfigProblems(yamlText: string, kubernetesVersion: string): string[] {
  const ref = kubeadmReference();
  const target = parseVersion(kubernetesVersion);
  const problems: string[] = [];
  let docs: unknown[];
  try {
    // CORE_SCHEMA: no timestamps or merge keys, like the JSON kubeadm's decoder ends up with.
    docs = yaml.loadAll(yamlText, undefined, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    return [`YAML does not parse: ${(e as Error).message}`];
  }
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return; // empty document (e.g. a trailing ---)
    const where = `doc ${i + 1}`;
    if (!isMapping(doc)) {
      problems.push(`${where}: not a mapping (${describe(doc)})`);
      return;
    }
    const apiVersion = doc['apiVersion'];
    const kind = doc['kind'];
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      problems.push(`${where}: apiVersion and kind must both be strings`);
      return;
    }
    const label = `${where} (${kind})`;
    let tree: Record<string, KField> | undefined;
    let allowed: string[] | undefined;
    if (apiVersion.startsWith('kubeadm.k8s.io/')) {
      const served = KUBEADM_SERVED[apiVersion];
      if (served && (target[1] < served.min || (served.max !== undefined && target[1] > served.max)) && target[0] === 1) {
        problems.push(`${label}: ${apiVersion} is not served by kubeadm ${kubernetesVersion} (served in 1.${served.min}–${served.max !== undefined ? `1.${served.max}` : 'now'})`);
      }
      const api = ref.kubeadm[apiVersion];
      if (api === undefined) {
        problems.push(`${label}: unknown apiVersion ${apiVersion}`);
        return;
      }
      if (api.kinds === undefined || api.paths === undefined) {
        problems.push(`${label}: ${apiVersion} has no reference key tree (not checkable; render a newer apiVersion)`);
        return;
      }
      tree = api.kinds[kind];
      allowed = api.paths[kind];
      if (tree === undefined || allowed === undefined) {
        problems.push(`${label}: kind ${kind} does not exist in ${apiVersion} (kinds: ${Object.keys(api.kinds).join(', ')})`);
        return;
      }
    } else if (apiVersion === 'kubelet.config.k8s.io/v1beta1' || apiVersion === 'kubeproxy.config.k8s.io/v1alpha1') {
      const expectedKind = apiVersion.startsWith('kubelet') ? 'KubeletConfiguration' : 'KubeProxyConfiguration';
      if (kind !== expectedKind) {
        problems.push(`${label}: kind ${kind} does not exist in ${apiVersion} (expected ${expectedKind})`);
        return;
      }
      const byTag = ref[apiVersion];
      const tag = pickTag(Object.keys(byTag), target);
      tree = byTag[tag]!.fields;
      allowed = byTag[tag]!.paths;
    } else {
      problems.push(`${label}: unknown apiVersion ${apiVersion}`);
      return;
    }
    const paths: string[] = [];
    const typeProblems: string[] = [];
    walkTree(doc, tree, '', paths, typeProblems);
    const allowedSet = new Set(allowed);
    for (const p of paths) if (!allowedSet.has(p)) problems.push(`${label}: unknown key ${p} for ${apiVersion}`);
    for (const p of typeProblems) problems.push(`${label}: ${p}`);
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// cloud-init user-data (cloud-init-centos7.md sections 2 and 5)
// ---------------------------------------------------------------------------------------------

/**
 * Top-level user-data keys read by a module that CentOS 7's cloud-init 19.4 runs with the RPM's
 * /etc/cloud/cloud.cfg (cloud-init-centos7.md §1b and §2).
 */
export const CENTOS7_USERDATA_KEYS: ReadonlySet<string> = new Set([
  // bootcmd, write_files
  'bootcmd', 'write_files',
  // set_hostname, update_hostname, update_etc_hosts
  'hostname', 'fqdn', 'preserve_hostname', 'manage_etc_hosts',
  // yum_add_repo
  'yum_repos', 'yum_repo_dir',
  // package_update_upgrade_install (with aliases and legacy names)
  'packages', 'package_update', 'package_upgrade', 'package_reboot_if_required',
  'apt_update', 'apt_upgrade', 'apt_reboot_if_required', 'repo_update', 'repo_upgrade',
  // timezone, runcmd
  'timezone', 'runcmd',
  // users_groups
  'users', 'groups', 'user',
  // ssh
  'ssh_deletekeys', 'ssh_genkeytypes', 'ssh_keys', 'ssh_authorized_keys', 'disable_root', 'disable_root_opts',
  'allow_public_ssh_keys', 'ssh_publish_hostkeys',
  // ssh_authkey_fingerprints, keys_to_console
  'no_ssh_fingerprints', 'authkey_hash', 'ssh_fp_console_blacklist', 'ssh_key_console_blacklist',
  // phone_home, power_state_change, final_message
  'phone_home', 'power_state', 'final_message',
  // disk_setup, mounts
  'disk_setup', 'fs_setup', 'mounts', 'mount_default_fields', 'swap',
  // set_passwords, locale, disable_ec2_metadata, growpart, resizefs
  'ssh_pwauth', 'chpasswd', 'password', 'locale', 'locale_configfile', 'disable_ec2_metadata',
  'growpart', 'resize_rootfs', 'resize_rootfs_tmp',
  // rsyslog, rh_subscription, puppet, chef, salt_minion, mcollective (in the RPM's module list)
  'rsyslog', 'syslog_fix_perms', 'rh_subscription', 'puppet', 'chef', 'salt_minion', 'mcollective',
  // user-data merging
  'merge_how', 'merge_type',
]);

/** Keys that look right but do nothing on a stock CentOS 7 image, with the reason. */
const CENTOS7_IGNORED_KEYS: Record<string, string> = {
  ntp: 'the ntp module is not in CentOS 7\'s module list, so ntp: is silently ignored (write /etc/chrony.conf with write_files instead)',
  ca_certs: 'the ca-certs module is not in CentOS 7\'s module list (put CA files with write_files and run update-ca-trust)',
  'ca-certs': 'the ca-certs module is not in CentOS 7\'s module list (put CA files with write_files and run update-ca-trust)',
  network: 'network: in user-data has no effect (network config belongs in network-config or /etc/cloud/cloud.cfg.d)',
};

const WRITE_FILES_KEYS = new Set(['path', 'content', 'owner', 'permissions', 'encoding', 'append']);
const WRITE_FILES_ENCODINGS = new Set(['b64', 'base64', 'gz', 'gzip', 'gz+b64', 'gz+base64', 'gzip+b64', 'gzip+base64', 'text/plain']);
const USER_KEYS = new Set([
  'name', 'gecos', 'homedir', 'primary_group', 'groups', 'selinux_user', 'lock_passwd', 'inactive', 'passwd',
  'hashed_passwd', 'plain_text_passwd', 'no_create_home', 'no_user_group', 'no_log_init', 'system', 'uid', 'shell',
  'expiredate', 'sudo', 'ssh_authorized_keys', 'ssh_import_id', 'ssh_redirect_user', 'snapuser',
]);

/** Parse YAML the way cloud-init does (PyYAML safe_load, YAML 1.1) and return it as JSON-compatible data. */
async function pyYamlLoad(text: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const code = [
    'import sys, json',
    'try:',
    '    import yaml',
    'except ImportError:',
    '    print("NO-PYYAML"); sys.exit(3)',
    'try:',
    '    v = yaml.safe_load(sys.stdin.read())',
    'except yaml.YAMLError as e:',
    '    print(json.dumps({"error": str(e)})); sys.exit(0)',
    'print(json.dumps({"value": v}, default=str))',
  ].join('\n');
  const r = await runTool('/usr/bin/python3', ['-I', '-c', code], text);
  if (r.exitCode === 3) throw new Error('PyYAML is missing for /usr/bin/python3: install the Debian package python3-yaml');
  if (r.exitCode !== 0) throw new Error(`/usr/bin/python3 YAML load failed (${r.exitCode}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { value?: unknown; error?: string };
  return out.error !== undefined ? { ok: false, error: out.error } : { ok: true, value: out.value };
}

/** Checks of cloud-init-centos7.md §5 rules 1–3 on already-parsed user-data. */
function centos7UserDataProblems(data: unknown): string[] {
  const problems: string[] = [];
  if (!isMapping(data)) return [`user-data is not a YAML mapping (${describe(data)})`];
  for (const key of Object.keys(data)) {
    const ignored = CENTOS7_IGNORED_KEYS[key];
    if (ignored !== undefined) problems.push(`${key}: ignored on CentOS 7: ${ignored}`);
    else if (!CENTOS7_USERDATA_KEYS.has(key)) problems.push(`${key}: not read by any module CentOS 7's cloud-init 19.4 runs`);
  }
  const wf = data['write_files'];
  if (wf !== undefined && wf !== null) {
    if (!Array.isArray(wf)) problems.push(`write_files: expected a list, got ${describe(wf)}`);
    else wf.forEach((item, i) => {
      const at = `write_files[${i}]`;
      if (!isMapping(item)) {
        problems.push(`${at}: expected a mapping, got ${describe(item)}`);
        return;
      }
      for (const k of Object.keys(item)) {
        if (!WRITE_FILES_KEYS.has(k)) problems.push(`${at}.${k}: not a write_files key in cloud-init 19.4${k === 'defer' ? ' (defer arrived in 21.x)' : ''}`);
      }
      if (typeof item['path'] !== 'string' || item['path'] === '') problems.push(`${at}.path: required string`);
      if ('content' in item && typeof item['content'] !== 'string') problems.push(`${at}.content: expected a string, got ${describe(item['content'])}`);
      if ('owner' in item && (typeof item['owner'] !== 'string' || !/^[^:\s]+(:[^:\s]+)?$/.test(item['owner']))) {
        problems.push(`${at}.owner: expected "user:group", got ${describe(item['owner'])}`);
      }
      if ('permissions' in item && (typeof item['permissions'] !== 'string' || !/^0?[0-7]{3,4}$/.test(item['permissions']))) {
        problems.push(`${at}.permissions: expected a quoted octal string like '0644', got ${describe(item['permissions'])}`);
      }
      if ('encoding' in item && (typeof item['encoding'] !== 'string' || !WRITE_FILES_ENCODINGS.has(item['encoding'].toLowerCase()))) {
        problems.push(`${at}.encoding: ${describe(item['encoding'])} is not one of ${[...WRITE_FILES_ENCODINGS].join(', ')} (would be written as text)`);
      }
      if ('append' in item && typeof item['append'] !== 'boolean') problems.push(`${at}.append: expected a boolean, got ${describe(item['append'])}`);
    });
  }
  const users = data['users'];
  if (users !== undefined && users !== null) {
    if (!Array.isArray(users)) problems.push(`users: expected a list, got ${describe(users)}`);
    else users.forEach((u, i) => {
      const at = `users[${i}]`;
      if (u === 'default') return;
      if (!isMapping(u)) {
        problems.push(`${at}: expected "default" or a mapping with name, got ${describe(u)}`);
        return;
      }
      if (typeof u['name'] !== 'string' || u['name'] === '') problems.push(`${at}.name: required string`);
      for (const k of Object.keys(u)) {
        if (!USER_KEYS.has(k)) {
          const hint = USER_KEYS.has(k.replace(/-/g, '_')) ? ` (use ${k.replace(/-/g, '_')})` : '';
          problems.push(`${at}.${k}: not a users key in cloud-init 19.4${hint}`);
        }
      }
      if ('ssh_redirect_user' in u && 'ssh_authorized_keys' in u) problems.push(`${at}: ssh_redirect_user and ssh_authorized_keys together are an error`);
    });
  }
  const repos = data['yum_repos'];
  if (repos !== undefined && repos !== null) {
    if (!isMapping(repos)) problems.push(`yum_repos: expected a mapping of repo id to options, got ${describe(repos)}`);
    else for (const [id, r] of Object.entries(repos)) {
      if (!isMapping(r)) problems.push(`yum_repos.${id}: expected a mapping, got ${describe(r)}`);
      else if (typeof r['baseurl'] !== 'string' || r['baseurl'] === '') problems.push(`yum_repos.${id}: baseurl is required in 19.4 (a mirrorlist-only repo is skipped)`);
    }
  }
  for (const key of ['runcmd', 'bootcmd']) {
    const v = data[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) {
      problems.push(`${key}: expected a list, got ${describe(v)}`);
      continue;
    }
    v.forEach((c, i) => {
      const ok = typeof c === 'string' || (Array.isArray(c) && c.every((x) => typeof x === 'string'));
      if (!ok) problems.push(`${key}[${i}]: expected a string or a list of strings, got ${describe(c)}`);
    });
  }
  const ps = data['power_state'];
  if (ps !== undefined && ps !== null) {
    if (!isMapping(ps) || !['poweroff', 'halt', 'reboot'].includes(String(ps['mode']))) {
      problems.push('power_state: mode (poweroff/halt/reboot) is required');
    }
  }
  return problems;
}

/**
 * Validate user-data with Debian's `cloud-init schema --config-file` (newer than CentOS's 19.4, so
 * a syntax check) and against CentOS 7's 19.4 allow-lists (cloud-init-centos7.md §2 and §5):
 * first line exactly `#cloud-config`, top-level keys read by a module CentOS 7 runs (`ntp`,
 * `ca_certs`/`ca-certs` and `network` flagged as ignored), write_files items with only
 * path/content/owner/permissions/encoding/append and permissions a quoted octal string, users
 * items, yum_repos baseurl, runcmd/bootcmd item shapes. YAML is read by PyYAML as cloud-init does;
 * duplicate keys (which PyYAML silently merges) are flagged through js-yaml.
 */
export async function cloudInitSchema(userData: string): Promise<string[]> {
  const problems: string[] = [];
  const firstLine = userData.split('\n', 1)[0]!;
  if (firstLine !== '#cloud-config') problems.push(`first line must be exactly "#cloud-config", got ${JSON.stringify(firstLine)}`);
  try {
    yaml.load(userData, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (/duplicate|duplicated/i.test((e as Error).message)) problems.push(`YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const [schema, loaded] = await Promise.all([
    withTempDir('k8s-image-ci-', async (dir) => {
      const file = join(dir, 'user-data');
      writeFileSync(file, userData);
      const r = await runTool('cloud-init', ['schema', '--config-file', file]);
      if (r.exitCode === 0) return [];
      const errLines = nonEmptyLines(r.stderr).filter((l) => l !== 'Error:');
      const lines = errLines.length > 0 ? errLines : nonEmptyLines(r.stdout);
      return (lines.length > 0 ? lines : [`exit code ${r.exitCode}`]).map((l) => `cloud-init schema: ${l.replace(file, 'user-data')}`);
    }),
    pyYamlLoad(userData),
  ]);
  problems.push(...schema);
  if (loaded.ok) problems.push(...centos7UserDataProblems(loaded.value));
  else problems.push(`YAML (PyYAML): ${loaded.error.split('\n')[0]}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// network-config → ifcfg through cloud-init's own sysconfig renderer
// ---------------------------------------------------------------------------------------------

const RENDER_IFCFG_PY = String.raw`
import sys, json, os, logging, inspect
req = json.load(sys.stdin)
try:
    import yaml
except ImportError:
    print(json.dumps({"missing": "python3-yaml"})); sys.exit(3)
try:
    from cloudinit.net.network_state import parse_net_config_data
    from cloudinit.net import sysconfig
except ImportError as e:
    print(json.dumps({"missing": "cloud-init", "error": str(e)})); sys.exit(3)

warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger().addHandler(Collect())

cfg = yaml.safe_load(req["text"])
if not isinstance(cfg, dict):
    raise SystemExit("network-config is not a mapping")
if "network" in cfg:
    cfg = cfg["network"]

params = inspect.signature(parse_net_config_data).parameters
if "skip_broken" in params:
    ns = parse_net_config_data(cfg, skip_broken=False)
else:
    ns = parse_net_config_data(cfg)

try:
    from cloudinit.distros.rhel import Distro as RhelDistro
    rcfg = dict(RhelDistro.renderer_configs["sysconfig"])
except Exception:
    rcfg = {
        "control": "etc/sysconfig/network",
        "iface_templates": "%(base)s/network-scripts/ifcfg-%(name)s",
        "route_templates": {
            "ipv4": "%(base)s/network-scripts/route-%(name)s",
            "ipv6": "%(base)s/network-scripts/route6-%(name)s",
        },
    }
renderer = sysconfig.Renderer(config=rcfg)
renderer.render_network_state(ns, target=req["target"])
print(json.dumps({"warnings": warnings}))
`;

export interface IfcfgRender {
  /** Relative path under the target root (etc/sysconfig/network-scripts/ifcfg-eth0, etc/resolv.conf) → content. */
  files: Record<string, string>;
  /** Warnings cloud-init logged while parsing and rendering (e.g. more than 3 DNS servers dropped). */
  warnings: string[];
}

/** Like renderNetworkConfigToIfcfg, but also returns the warnings cloud-init logged. */
export async function renderNetworkConfigWithWarnings(networkConfig: string): Promise<IfcfgRender> {
  return withTempDir('k8s-image-net-', async (target) => {
    const r = await runTool('/usr/bin/python3', ['-I', '-c', RENDER_IFCFG_PY], JSON.stringify({ text: networkConfig, target }));
    if (r.exitCode === 3) {
      const m = JSON.parse(r.stdout) as { missing: string; error?: string };
      throw new Error(`cloud-init's Python code is not importable by /usr/bin/python3: install the Debian package ${m.missing}${m.error ? ` (${m.error})` : ''}`);
    }
    if (r.exitCode !== 0) throw new Error(`cloud-init sysconfig renderer failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
    const { warnings } = JSON.parse(nonEmptyLines(r.stdout).pop() ?? '{}') as { warnings: string[] };
    const files: Record<string, string> = {};
    const scripts = join(target, 'etc', 'sysconfig', 'network-scripts');
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else files[relative(target, p)] = readFileSync(p, 'utf8');
      }
    };
    try {
      walk(scripts);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const resolv = join(target, 'etc', 'resolv.conf');
    try {
      files['etc/resolv.conf'] = readFileSync(resolv, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return { files, warnings };
  });
}

/**
 * Render a NoCloud network-config (v1, or v2 as far as cloud-init converts it) with the installed
 * cloud-init's sysconfig renderer (rhel flavour, the rhel distro's templates) into a temp root and
 * return relative path → content for etc/sysconfig/network-scripts/* and etc/resolv.conf (if
 * written). A config cloud-init rejects throws (parsing runs with skip_broken=False).
 */
export async function renderNetworkConfigToIfcfg(networkConfig: string): Promise<Record<string, string>> {
  return (await renderNetworkConfigWithWarnings(networkConfig)).files;
}

/** Parse an ifcfg/sysconfig file: KEY=value lines, surrounding single or double quotes stripped, comments skipped. */
export function parseIfcfg(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shell scripts
// ---------------------------------------------------------------------------------------------

export interface ShellcheckOptions {
  /** Lowest shellcheck severity reported (default 'warning'). */
  severity?: 'error' | 'warning' | 'info' | 'style';
  /** Codes reported even below `severity` (default ['SC2086']: unquoted expansions are only 'info'). */
  alwaysReport?: string[];
  /** Codes never reported, e.g. ['SC1091']. */
  exclude?: string[];
}

interface ShellcheckComment {
  line: number;
  column: number;
  level: 'error' | 'warning' | 'info' | 'style';
  code: number;
  message: string;
}

const SEVERITY_RANK = { error: 0, warning: 1, info: 2, style: 3 } as const;

/**
 * Check a bash script with `bash -n` (syntax) and shellcheck (`-s bash`, severity warning and up,
 * plus SC2086 — shellcheck rates unquoted `$1` only 'info', so `-S warning` alone would miss it).
 * Returns problems prefixed with `name:line:col`.
 */
export async function shellcheck(script: string, name: string, opts: ShellcheckOptions = {}): Promise<string[]> {
  const severity = opts.severity ?? 'warning';
  const always = new Set(opts.alwaysReport ?? ['SC2086']);
  const exclude = new Set(opts.exclude ?? []);
  const problems: string[] = [];
  const [syntax, sc] = await Promise.all([
    runTool('bash', ['-n'], script),
    runTool('shellcheck', ['-s', 'bash', '-S', 'style', '-f', 'json1', '-'], script),
  ]);
  if (syntax.exitCode !== 0) {
    const lines = nonEmptyLines(syntax.stderr);
    problems.push(...(lines.length > 0 ? lines : [`exit code ${syntax.exitCode}`]).map((l) => `${name}: bash -n: ${l.replace(/^bash: /, '')}`));
  }
  if (sc.exitCode !== 0 && sc.exitCode !== 1) throw new Error(`shellcheck failed (${sc.exitCode}): ${sc.stderr}`);
  const comments = (JSON.parse(sc.stdout || '{"comments":[]}') as { comments: ShellcheckComment[] }).comments;
  for (const c of comments) {
    const code = `SC${c.code}`;
    if (exclude.has(code)) continue;
    if (SEVERITY_RANK[c.level] > SEVERITY_RANK[severity] && !always.has(code)) continue;
    problems.push(`${name}:${c.line}:${c.column}: ${c.level}: ${c.message} [${code}]`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// kickstart `network` lines beyond the option grammar (kickstart-rhel7-network.md)
// ---------------------------------------------------------------------------------------------

/**
 * The checks pykickstart 1.99.66.22's RHEL7_Network.parse makes on each `network` line after the
 * option grammar (checkKickstart): a repeated --device ("A network device with the name ... has
 * already been defined", FC3_NetworkData.__eq__ compares device only), --interfacename with a VLAN
 * id after `.` or `vlan` in 0-4095 (and not `vlan.<id>`), --bridgeopts only with --bridgeslaves and
 * as key=value, --bindto=mac not on a VLAN unless a bond's. Plus what anaconda needs to build
 * the device: --vlanid an integer 0-4095, --mtu an integer, --bondopts only with --bondslaves as
 * comma-separated key=value (`;` when a value holds a comma), at most one --hostname.
 */
export function kickstartNetworkProblems(ksText: string): string[] {
  const problems: string[] = [];
  const devices = new Map<string, number>();
  let hostnames = 0;
  ksText.split('\n').forEach((line, idx) => {
    if (!/^network\s/.test(line)) return;
    const n = idx + 1;
    const opts = new Map<string, string>();
    for (const a of shlexSplit(line).slice(1)) {
      const eq = a.indexOf('=');
      opts.set(eq < 0 ? a : a.slice(0, eq), eq < 0 ? '' : a.slice(eq + 1));
    }
    const say = (m: string) => problems.push(`line ${n}: ${m}: ${line}`);
    const device = opts.get('--device');
    if (device !== undefined) {
      if (devices.has(device)) say(`--device=${device} was already defined on line ${devices.get(device)} (pykickstart warns; anaconda keeps one)`);
      else devices.set(device, n);
    }
    const name = opts.get('--interfacename');
    if (name !== undefined) {
      const [pre, dot, idText] = [name.split('.')[0], name.includes('.'), name.slice(name.indexOf('.') + 1)];
      let id: number | undefined;
      if (dot) {
        if (pre === 'vlan') say('--interfacename: <prefix>.<id> with the prefix vlan is refused');
        else if (!/^[0-9]+$/.test(idText)) say('--interfacename: a . must be followed by a VLAN id');
        else id = Number(idText);
      }
      if (name.startsWith('vlan')) {
        if (!/^[0-9]+$/.test(name.slice(4))) say('--interfacename: vlan must be followed by a VLAN id');
        else id = Number(name.slice(4));
      }
      if (id !== undefined && !(id >= 0 && id <= 4095)) say(`--interfacename: VLAN id ${id} out of 0-4095`);
      if (id !== undefined && opts.has('--vlanid') && Number(opts.get('--vlanid')) !== id) say(`--interfacename ${name} names VLAN ${id} but --vlanid is ${opts.get('--vlanid')}`);
    }
    const vlanid = opts.get('--vlanid');
    if (vlanid !== undefined && !(/^[0-9]+$/.test(vlanid) && Number(vlanid) <= 4095)) say('--vlanid must be an integer 0-4095');
    const mtu = opts.get('--mtu');
    if (mtu !== undefined && !/^[0-9]+$/.test(mtu)) say('--mtu must be an integer');
    const bondopts = opts.get('--bondopts');
    if (bondopts !== undefined) {
      if (!opts.get('--bondslaves')) say('--bondopts without --bondslaves');
      const sep = bondopts.includes(';') ? ';' : ',';
      for (const o of bondopts.split(sep)) if (!/^[a-z_]+=[^=,;]+$/.test(o)) say(`--bondopts: "${o}" is not key=value`);
    }
    if (opts.has('--bridgeopts')) {
      if (!opts.get('--bridgeslaves')) say('--bridgeopts requires --bridgeslaves');
      for (const o of opts.get('--bridgeopts')!.split(',')) if (!/^[^=]+=[^=]+$/.test(o)) say('bad format of --bridgeopts, expecting key=value options separated by ","');
    }
    if (opts.get('--bindto') === 'mac' && vlanid !== undefined && !bondopts) say('--bindto=mac is not supported for a VLAN');
    if (opts.has('--hostname')) hostnames++;
  });
  if (hostnames > 1) problems.push(`${hostnames} network lines set --hostname; the node has one`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// dracut 033 network arguments (dracut-033-network.md)
// ---------------------------------------------------------------------------------------------

/** Split a dracut argument value on `:` as net-lib.sh does (an IPv6 address in [...] is one field). */
function dracutFields(value: string): string[] {
  const out: string[] = [];
  let v = `${value}:`;
  while (v !== '') {
    const m = /^\[([^\]]*)\]:/.exec(v);
    if (m) {
      out.push(m[1]!);
      v = v.slice(m[0].length);
    } else {
      out.push(v.slice(0, v.indexOf(':')));
      v = v.slice(v.indexOf(':') + 1);
    }
  }
  return out;
}

/** get_vid in dracut 033's ifup.sh: the VLAN id a VLAN device name carries. */
function dracutVid(name: string): string | undefined {
  if (name.startsWith('vlan')) return name.slice(4);
  if (name.includes('.')) return name.slice(name.lastIndexOf('.') + 1);
  return undefined;
}

/**
 * Check a kernel command line's network arguments against dracut 033 (CentOS 7's): ip= fields and
 * autoconf rules, one bond= (0-3 fields, key=value options), one vlan= (2 fields, an id in the name),
 * an ip= device that exists (a NIC, the bond or the VLAN), a VLAN's parent, the same device not
 * configured twice, bootdev= with several ip=, nameserver= addresses, BOOTIF's form. Devices named
 * `nics` (the node's NICs by kernel name) are the only physical ones accepted.
 */
export function dracutNetworkProblems(cmdline: string, nics: string[] = []): string[] {
  const problems: string[] = [];
  const args = cmdline.split(/\s+/).filter(Boolean);
  const values = (key: string) => args.filter((a) => a.startsWith(`${key}=`)).map((a) => a.slice(key.length + 1));
  const ipv4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
  const bonds = values('bond');
  const vlans = values('vlan');
  if (bonds.length > 1) problems.push(`bond=: ${bonds.length} given; dracut 033 reads one (getarg)`);
  if (vlans.length > 1) problems.push(`vlan=: ${vlans.length} given; dracut 033 reads one (getarg)`);
  const devs = new Set(nics);
  let bond: { name: string; slaves: string[] } | undefined;
  for (const b of bonds.slice(0, 1)) {
    const f = dracutFields(b);
    if (f.length > 3) problems.push(`bond=${b}: bond= requires zero to four parameters (got ${f.length} fields)`);
    const [name = 'bond0', slavesText = 'eth0,eth1', options = ''] = f;
    const slaves = slavesText.split(',');
    for (const s of slaves) if (nics.length && !nics.includes(s)) problems.push(`bond=${b}: slave ${s} is not one of the NICs (${nics.join(', ')})`);
    if (options) for (const o of options.split(',')) if (!/^[a-z_]+=[^=\s]+$/.test(o)) problems.push(`bond=${b}: option "${o}" is not key=value (ifup.sh writes /sys/class/net/<bond>/bonding/<key>)`);
    bond = { name, slaves };
    devs.add(name);
  }
  for (const v of vlans.slice(0, 1)) {
    const f = dracutFields(v);
    if (f.length !== 2) {
      problems.push(`vlan=${v}: vlan= requires two parameters`);
      continue;
    }
    const [name, parent] = f as [string, string];
    const vid = dracutVid(name);
    if (vid === undefined || !/^[0-9]+$/.test(vid)) problems.push(`vlan=${v}: get_vid finds no VLAN id in "${name}" (vlan<id> or <dev>.<id>)`);
    if (!devs.has(parent)) problems.push(`vlan=${v}: parent ${parent} is neither a NIC nor the bond`);
    if (bond && bond.slaves.includes(parent)) problems.push(`vlan=${v}: parent ${parent} is a slave of ${bond.name}`);
    devs.add(name);
  }
  const ips = values('ip');
  if (ips.length > 1 && values('bootdev').length === 0) problems.push('several ip= without bootdev=');
  const configured = new Set<string>();
  for (const p of ips) {
    const f = dracutFields(p);
    let ip: string | undefined, gw: string | undefined, mask: string | undefined, dev: string | undefined, autoconf: string | undefined, mtu: string | undefined;
    if (f.length === 1) autoconf = f[0];
    else if (f.length <= 4) [dev, autoconf, mtu] = f;
    else [ip, , gw, mask, , dev, autoconf, mtu] = f;
    ip ||= undefined; gw ||= undefined; mask ||= undefined; dev ||= undefined; autoconf ||= undefined; mtu ||= undefined;
    if (autoconf === undefined) problems.push(`ip=${p}: empty autoconf defaults to dhcp`);
    else if (autoconf === 'none' || autoconf === 'off') {
      if (!ip) problems.push(`ip=${p}: ${autoconf} without static configuration does not make sense`);
      if (!mask) problems.push(`ip=${p}: automatic calculation of netmask is not supported`);
    } else if (['dhcp', 'dhcp6', 'on', 'any'].includes(autoconf)) {
      if (ip) problems.push(`ip=${p}: setting client-ip does not make sense for ${autoconf}`);
    } else if (!['auto6', 'ibft'].includes(autoconf)) problems.push(`ip=${p}: unknown autoconf value ${autoconf}`);
    for (const [what, v] of [['client IP', ip], ['gateway', gw], ['netmask', mask]] as const) if (v !== undefined && !ipv4.test(v)) problems.push(`ip=${p}: ${what} "${v}" is not an IPv4 address`);
    if (mtu !== undefined && !/^[0-9]+$/.test(mtu)) problems.push(`ip=${p}: mtu "${mtu}" is not a number`);
    if (dev !== undefined) {
      if (configured.has(dev)) problems.push(`ip=${p}: duplicate configuration for ${dev}`);
      configured.add(dev);
      if (!devs.has(dev)) problems.push(`ip=${p}: device ${dev} is not a NIC, the bond or the VLAN`);
      if (bond?.slaves.includes(dev)) problems.push(`ip=${p}: ${dev} is a slave of ${bond.name}`);
    } else if (bond || vlans.length) problems.push(`ip=${p}: names no device although bond= or vlan= builds one`);
  }
  for (const d of values('nameserver')) if (!ipv4.test(d)) problems.push(`nameserver=${d}: not an IPv4 address`);
  for (const b of values('BOOTIF')) if (!/^01-([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(b)) problems.push(`BOOTIF=${b}: expected 01-aa-bb-cc-dd-ee-ff`);
  return problems;
}

/**
 * cloud-init 19.4's sysconfig renderer takes a VLAN's PHYSDEV from its name (name up to the last '.';
 * test/reference/cloud-init-centos7.md §4), where the Debian cloud-init the tests run uses vlan_link.
 * The problems a network-config v1 would have on CentOS 7: each VLAN whose name-derived parent is not its vlan_link.
 */
export function cloudInit194VlanProblems(networkConfig: string): string[] {
  const doc = yaml.load(networkConfig) as { config?: { type?: string; name?: string; vlan_link?: string }[] };
  const problems: string[] = [];
  for (const item of doc.config ?? []) {
    if (item.type !== 'vlan') continue;
    const name = String(item.name);
    const physdev = name.slice(0, name.lastIndexOf('.') === -1 ? -1 : name.lastIndexOf('.'));
    if (physdev !== item.vlan_link) problems.push(`VLAN ${name}: cloud-init 19.4 writes PHYSDEV=${physdev}, not its vlan_link ${item.vlan_link}`);
  }
  return problems;
}
