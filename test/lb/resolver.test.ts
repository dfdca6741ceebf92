// Why a master's /etc/hosts lists the endpoint name for itself first and then for the other masters
// (loadBalancer.kind local): kubeadm and the kubelet are Go programs, and Go's resolver returns every
// /etc/hosts address of a name in file order while its dialer tries them in turn, moving on at once
// from a refused connection. So a master whose own API server is not up yet (a control-plane join:
// discovery, TLS bootstrap, the etcd join all go to the endpoint kubeadm init stored) reaches another
// master by the same name, and itself once its API server listens; the file never changes.
//
// Proved here with a real Go dialer (Debian's Go; `net.DialTimeout` as client-go does) built as
// kubeadm is (CGO_ENABLED=0, Go's own resolver) and with cgo forced to glibc's getaddrinfo (the
// kubelet links cgo), reading the plan's own /etc/hosts of master2 and CentOS 7's /etc/host.conf
// (`multi on`) bind-mounted in a private mount namespace (unshare -m), against listeners on the
// masters' loopback addresses.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCluster } from '../../src/config/index.js';
import { planNode } from '../../src/plan/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { requireTool, tempDir } from './_lb.js';

const { dir, cleanup } = tempDir('lb-resolver');
after(cleanup);

const NET = '127.42.6';
const NAME = 'api.resolve.internal';
const CONFIG = `cluster: { name: resolve }
loadBalancer: { kind: local }
network: { prefix: 8, gateway: 127.0.0.254, interface: eth0 }
os: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM t@lab"] }
nodes:
  - { name: master1, role: master, ip: ${NET}.11 }
  - { name: master2, role: master, ip: ${NET}.12 }
  - { name: master3, role: master, ip: ${NET}.13 }
  - { name: worker1, role: node,   ip: ${NET}.21 }
`;

const DIAL = `package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.DialTimeout("tcp", os.Args[1], 5*time.Second)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println(c.RemoteAddr().String())
	c.Close()
}
`;

const bins: Record<'pure' | 'cgo', string> = { pure: '', cgo: '' };
let hostsOf: (node: string) => string;

before(async () => {
  const go = requireTool('go', 'golang-go');
  writeFileSync(join(dir, 'main.go'), DIAL);
  const env = { ...process.env, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), GOFLAGS: '-mod=mod', GO111MODULE: 'off' };
  for (const kind of ['pure', 'cgo'] as const) {
    bins[kind] = join(dir, `dial-${kind}`);
    execFileSync(go, ['build', '-o', bins[kind], 'main.go'], { cwd: dir, env: { ...env, CGO_ENABLED: kind === 'pure' ? '0' : '1' }, stdio: 'pipe' });
  }
  const { cluster } = loadCluster(CONFIG, 'resolve.yaml');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  hostsOf = (node) => planNode(cluster, secrets, node).files.find((f) => f.path === '/etc/hosts')!.content;
});

/** Dial NAME:6443 as `node` would: its plan's /etc/hosts and CentOS 7's host.conf, in a private mount namespace. */
function dialAs(node: string, kind: 'pure' | 'cgo'): string {
  const hosts = join(dir, `hosts-${node}`);
  const hostConf = join(dir, 'host.conf');
  writeFileSync(hosts, hostsOf(node));
  writeFileSync(hostConf, 'multi on\n'); // CentOS 7's /etc/host.conf (the setup package)
  const r = spawnSync(
    requireTool('unshare', 'util-linux'),
    ['-m', 'sh', '-c', 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/host.conf && exec "$3" "$4"', 'sh', hosts, hostConf, bins[kind], `${NAME}:6443`],
    { encoding: 'utf8', env: { ...process.env, GODEBUG: kind === 'cgo' ? 'netdns=cgo' : 'netdns=go' }, timeout: 20_000 },
  );
  assert.equal(r.error, undefined);
  return `${r.stdout}${r.stderr}`.trim();
}

async function listen(ip: string): Promise<Server> {
  const s = createServer((c) => c.end());
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(6443, ip, () => resolve());
  });
  return s;
}
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe("a master reaches the endpoint name: itself once it listens, another master before", () => {
  for (const kind of ['pure', 'cgo'] as const) {
    test(`Go dialer, ${kind === 'pure' ? "Go's own resolver (kubeadm)" : "glibc's getaddrinfo (cgo, the kubelet)"}`, async () => {
      assert.deepEqual(hostsOf('master2').split('\n').filter((l) => l.endsWith(` ${NAME}`)), [`${NET}.12 ${NAME}`, `${NET}.11 ${NAME}`, `${NET}.13 ${NAME}`]);
      const m1 = await listen(`${NET}.11`);
      try {
        // master2 joining: its own API server is not up; the name takes it to master1.
        assert.equal(dialAs('master2', kind), `${NET}.11:6443`);
        const m2 = await listen(`${NET}.12`);
        try {
          // After its join: itself, though master1 still answers.
          assert.equal(dialAs('master2', kind), `${NET}.12:6443`);
          assert.equal(dialAs('master1', kind), `${NET}.11:6443`);
        } finally {
          await close(m2);
        }
        // master3, joining later: its own address first, then master1.
        assert.equal(dialAs('master3', kind), `${NET}.11:6443`);
      } finally {
        await close(m1);
      }
      // A worker's name is 127.0.0.1 only (its proxy); nothing else is tried.
      assert.deepEqual(hostsOf('worker1').split('\n').filter((l) => l.endsWith(` ${NAME}`)), [`127.0.0.1 ${NAME}`]);
    });
  }
});
