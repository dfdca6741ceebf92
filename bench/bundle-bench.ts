/**
 * Benchmark of `k8s-image bundle` (not a test) against what people do by hand: `dnf download
 * --resolve` of the pinned packages plus `skopeo copy` of every image into docker archives, on the
 * same synthetic upstream (test/bundle/upstream.ts: rpmbuild RPMs on loopback yum repositories, with
 * incompressible payloads; Debian's docker-registry with a big layer per control-plane image).
 * Prints bytes written, wall time and peak RSS (GNU time) of each, a re-run of each, and what the
 * hand-made download got wrong (packages beside the pinned ones).
 * Needs dnf-plugins-core (dnf download) and skopeo beside the test tools.
 *   npm run bench:bundle [MiB per big RPM] [MiB per big image layer]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/assets.js';
import { RPMS, NODE_PACKAGES, buildRepos, labYaml, pushLabImages, serveDir, startRegistry } from '../test/bundle/upstream.js';
import { tempDir } from '../test/helpers/tmp.js';

const rpmMiB = Number(process.argv[2] ?? 8);
const layerMiB = Number(process.argv[3] ?? 8);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');

/** Runs under GNU time (async: the mirror and registry answer from this process). */
function timed(cmd: string, args: string[], cwd: string): Promise<{ code: number; seconds: number; rssKiB: number; stderr: string }> {
  return new Promise((res) => {
    const c = spawn('/usr/bin/time', ['-f', '@@%e %M', cmd, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', (code) => {
      const m = /@@([0-9.]+) ([0-9]+)/.exec(err);
      res({ code: code ?? 1, seconds: Number(m?.[1] ?? NaN), rssKiB: Number(m?.[2] ?? NaN), stderr: err.replace(/@@.*\n?/, '') });
    });
  });
}

function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? duBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

const work = tempDir('k8s-image-bundle-bench-');
const big = new Set(['kubelet', 'kubeadm', 'kubectl', 'docker-ce', 'kubernetes-cni', 'cri-tools']);
await buildRepos(join(work, 'upstream'), RPMS.map((r) => (big.has(r.name) ? { ...r, payload: rpmMiB << 20 } : r)));
const mirror = await serveDir(join(work, 'upstream'));
const registry = await startRegistry();
const { names } = await pushLabImages(registry.host, layerMiB << 20);
writeFileSync(join(work, 'cluster.yaml'), labYaml(mirror.url, registry.host));
const rows: string[] = [];
try {
  // k8s-image bundle, then a re-run with nothing changed.
  for (const label of ['k8s-image bundle', 'k8s-image bundle (re-run, nothing changed)']) {
    const sent = mirror.sent();
    const r = await timed(process.execPath, [cli, 'bundle', '-c', 'cluster.yaml', '-o', 'bundle'], work);
    if (r.code !== 0) throw new Error(r.stderr);
    rows.push(`| ${label} | ${mib(duBytes(join(work, 'bundle')))} | ${mib(mirror.sent() - sent)} from the mirror | ${r.seconds.toFixed(2)} s | ${(r.rssKiB / 1024).toFixed(0)} MiB | pinned set only, repodata, 9 images loadable by docker and containerd |`);
  }
  // By hand: dnf download --resolve of the same list, from the same repositories, then skopeo copy.
  for (const label of ['dnf download --resolve + skopeo copy', 'dnf download --resolve + skopeo copy (re-run)']) {
    const hand = join(work, 'hand');
    mkdirSync(join(hand, 'repos'), { recursive: true });
    // skopeo cannot add to an existing docker archive: a re-run by hand starts the images afresh.
    rmSync(join(hand, 'images'), { recursive: true, force: true });
    mkdirSync(join(hand, 'images'), { recursive: true });
    const repo = (id: string, url: string) => `[${id}]\nname=${id}\nbaseurl=${url}\nenabled=1\ngpgcheck=0\n`;
    writeFileSync(
      join(hand, 'repos', 'all.repo'),
      [repo('base', `${mirror.url}/centos/7.9.2009/os/x86_64/`), repo('updates', `${mirror.url}/centos/7.9.2009/updates/x86_64/`), repo('extras', `${mirror.url}/centos/7.9.2009/extras/x86_64/`), repo('docker-ce-stable', `${mirror.url}/docker-ce/7/x86_64/stable/`), repo('kubernetes', `${mirror.url}/kubernetes/yum/repos/kubernetes-el7-x86_64/`)].join('\n'),
    );
    writeFileSync(join(hand, 'dnf.conf'), '[main]\n');
    mkdirSync(join(hand, 'root'), { recursive: true });
    const sent = mirror.sent();
    const d = await timed('dnf', ['-q', '--disableplugin=local', `--config=${hand}/dnf.conf`, `--setopt=reposdir=${hand}/repos`, `--setopt=cachedir=${hand}/cache`, `--installroot=${hand}/root`, '--releasever=7', '--forcearch=x86_64', 'download', '--resolve', '--alldeps', `--destdir=${hand}/rpms`, ...NODE_PACKAGES], work);
    if (d.code !== 0) throw new Error(`dnf download: ${d.stderr}`);
    let seconds = d.seconds;
    let rss = d.rssKiB;
    for (const n of names) {
      const s = await timed('skopeo', ['copy', '-q', '--src-tls-verify=false', '--override-arch', 'amd64', '--override-os', 'linux', `docker://${n}`, `docker-archive:${hand}/images/${n.replace(/[/:]/g, '_')}.tar:${n}`], work);
      if (s.code !== 0) throw new Error(`skopeo: ${s.stderr}`);
      seconds += s.seconds;
      rss = Math.max(rss, s.rssKiB);
    }
    const got = readdirSync(join(hand, 'rpms'));
    const extra = got.filter((f) => /^(kubelet-1\.17\.5|kubectl-1\.17\.5|kubernetes-cni-0\.8\.7|cri-tools-1\.19|docker-ce-19|containerd\.io)/.test(f));
    rows.push(`| ${label} | ${mib(duBytes(join(hand, 'rpms')) + duBytes(join(hand, 'images')))} | ${mib(mirror.sent() - sent)} from the mirror | ${seconds.toFixed(2)} s | ${(rss / 1024).toFixed(0)} MiB | ${extra.length} unpinned builds beside the pinned ones (${extra.join(', ') || 'none'}); no repodata; docker archives only |`);
    if (label.endsWith('(re-run)')) rmSync(hand, { recursive: true, force: true });
  }
} finally {
  mirror.server.close();
  registry.stop();
}
console.log(`\n${RPMS.length} RPMs (${big.size} of them carrying ${rpmMiB} MiB), ${names.length} images (5 with a ${layerMiB} MiB layer)\n`);
console.log('| run | bytes written | fetched | wall time | peak RSS | what it made |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);

