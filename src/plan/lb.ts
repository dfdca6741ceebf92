import type { Cluster, Node } from '../config/index.js';
import type { PlanFile } from './types.js';

/**
 * The `lb` role: an L4 (TCP) proxy in front of every master's kube-apiserver, and optionally
 * keepalived holding loadBalancer.virtualIP across the lb nodes.
 *
 * Compatibility targets (the rendered files are checked by the real servers in test/lb):
 * - nginx: EPEL's nginx 1.20 on CentOS 7, stream module from nginx-mod-stream (Debian's 1.22 in tests).
 * - haproxy: CentOS 7 base haproxy 1.5.18 (Debian's 2.6 in tests): only directives both understand.
 * - keepalived: CentOS 7 base keepalived 1.3.5 (Debian's 2.2 in tests).
 * SELinux: the project only renders `permissive` or `disabled`, so neither proxy needs
 * `semanage port` / `httpd_can_network_connect` to listen on the API port or dial the masters.
 */

/** kube-apiserver's secure port on every master (kubeadm's default; the plan never changes it). */
export const API_SERVER_PORT = 6443;

function masters(cluster: Cluster): Node[] {
  return cluster.nodes.filter((n) => n.role === 'master');
}

function lbNodes(cluster: Cluster): Node[] {
  return cluster.nodes.filter((n) => n.role === 'lb');
}

/**
 * nginx `stream` (L4) proxy in front of every master's 6443, as seed 004 builds by hand.
 *
 * Health checks: open-source nginx has no active checks in `stream` (health_check is NGINX Plus
 * only), so this relies on passive ones: a master that refuses or times out a connection
 * `max_fails` times within `fail_timeout` is skipped for `fail_timeout`, and the failed attempt
 * itself moves on to the next master (`proxy_next_upstream`, on by default), so the client does
 * not see the failure. A master whose apiserver accepts TCP but is unhealthy is not detected:
 * choose haproxy (loadBalancer.kind) for active /healthz checks.
 */
export function nginxConf(cluster: Cluster): string {
  return nginxConfListening(cluster, listenAddress(cluster));
}

/** Where the proxy listens: every address on an lb node; only loopback on a node of loadBalancer.kind local. */
function listenAddress(cluster: Cluster): { host?: string; port: number } {
  return cluster.loadBalancer.mode === 'local' ? { host: '127.0.0.1', port: API_SERVER_PORT } : { port: cluster.loadBalancer.port };
}

function nginxConfListening(cluster: Cluster, listen: { host?: string; port: number }): string {
  const upstream = masters(cluster).map((m) => `        server ${m.ip}:${API_SERVER_PORT} max_fails=2 fail_timeout=10s;`);
  return [
    "# Written by k8s-image: TCP proxy to every master's API server (seed 004).",
    'user nginx;',
    'worker_processes auto;',
    'error_log /var/log/nginx/error.log;',
    'pid /run/nginx.pid;',
    '# EPEL builds the stream module as a dynamic module (nginx-mod-stream); this loads it.',
    'include /usr/share/nginx/modules/*.conf;',
    '',
    'events {',
    '    worker_connections 1024;',
    '}',
    '',
    'stream {',
    "    log_format k8s '$remote_addr -> $upstream_addr $status $session_time';",
    '    access_log /var/log/nginx/k8s-apiserver.log k8s;',
    '    upstream kube_apiserver {',
    '        # Shared memory: every worker sees the same connection counts and failed masters.',
    '        zone kube_apiserver 64k;',
    '        least_conn;',
    '        # Passive health checks only (open-source nginx): see nginxConf in src/plan/lb.ts.',
    ...upstream,
    '    }',
    '    server {',
    `        listen ${listen.host ? `${listen.host}:` : ''}${listen.port};`,
    '        proxy_pass kube_apiserver;',
    '        # A refused or silent master costs 2s, then the next one is tried (at most 3 of them).',
    '        proxy_connect_timeout 2s;',
    '        proxy_next_upstream on;',
    `        proxy_next_upstream_tries ${Math.max(1, masters(cluster).length)};`,
    '        # Watches (kubectl get -w, kubelet, controllers) idle for minutes; keep them open.',
    '        proxy_timeout 10m;',
    '    }',
    '}',
    '',
  ].join('\n');
}

/**
 * haproxy TCP mode with active health checks: `GET /healthz` over TLS (certificate not verified:
 * the check only asks whether the apiserver answers 200; kube-apiserver serves /healthz to
 * anonymous clients through the system:public-info-viewer role). `option httpchk`,
 * `http-check expect`, `check-ssl` and `verify none` all exist in haproxy 1.5.
 * A master that fails 2 checks 3s apart is taken out; 2 passing checks bring it back. A connection
 * that still reaches a dead master before that is retried, the last retry on another master (haproxy
 * 1.5 doc/configuration.txt, retries and option redispatch: only the last retry is redispatched;
 * haproxy 2.x redispatches every retry with roundrobin). A silent master (SYNs dropped) costs each
 * attempt the whole `timeout connect`, so a new connection waits at most retries x timeout connect
 * (2 x 2s) before the last retry goes elsewhere: with 3 x 5s it stalled 15s (haproxy 1.5 does not cut
 * the retries short when the checks take the master out).
 * The same config runs on lb nodes and on the workers of loadBalancer.kind local.
 */
export function haproxyCfg(cluster: Cluster): string {
  const listen = listenAddress(cluster);
  return [
    "# Written by k8s-image: TCP proxy to every master's API server.",
    'global',
    '    log /dev/log local0',
    '    user haproxy',
    '    group haproxy',
    '    maxconn 4000',
    '    daemon',
    '',
    'defaults',
    '    mode tcp',
    '    log global',
    '    option tcplog',
    '    option dontlognull',
    '    # A silent master costs retries x timeout connect (4s) before the last retry goes to another one.',
    '    retries 2',
    '    option redispatch',
    '    timeout connect 2s',
    '    # Watches (kubectl get -w, kubelet, controllers) idle for minutes; keep them open.',
    '    timeout client 10m',
    '    timeout server 10m',
    '    timeout check 5s',
    '',
    'frontend kube_apiserver',
    `    bind ${listen.host ?? '*'}:${listen.port}`,
    '    default_backend kube_apiserver',
    '',
    'backend kube_apiserver',
    '    balance roundrobin',
    '    option httpchk GET /healthz',
    '    http-check expect status 200',
    '    default-server inter 3s fall 2 rise 2',
    ...masters(cluster).map((m, i) => `    server master${i + 1} ${m.ip}:${API_SERVER_PORT} check check-ssl verify none`),
    '',
  ].join('\n');
}

/** The VRRP router id: the virtual IP's last octet (1-255), so an admin can predict and avoid clashes. */
export function virtualRouterId(vip: string): number {
  const last = Number(vip.split('.')[3]);
  return last >= 1 && last <= 255 ? last : 1;
}

/**
 * keepalived on each lb node when loadBalancer.virtualIP is set: VRRP (unicast to the other lb
 * nodes, since multicast is often filtered on VMware and cloud networks) holds the virtual IP on
 * the highest-priority lb node whose proxy process runs. Priority follows the order of lb nodes in
 * cluster.yaml (the first one holds the address while healthy). A failing check puts the node in
 * FAULT state, which releases the address to the next one. No VRRP authentication: VRRPv2's is
 * plain text and RFC 3768 dropped it. The proxies bind the wildcard address, so they accept
 * connections for the virtual IP as soon as it arrives, without ip_nonlocal_bind.
 * Directives are keepalived 1.3.5 (CentOS 7 base) compatible.
 */
export function keepalivedConf(cluster: Cluster, node: Node): string {
  const vip = cluster.loadBalancer.virtualIP;
  if (vip === undefined) throw new Error('keepalivedConf: loadBalancer.virtualIP is not set');
  const lbs = lbNodes(cluster);
  const index = lbs.findIndex((n) => n.name === node.name);
  if (index < 0) throw new Error(`keepalivedConf: node ${node.name} is not an lb node`);
  const peers = lbs.filter((n) => n.name !== node.name).map((n) => `        ${n.ip}`);
  const proxy = cluster.loadBalancer.kind;
  return [
    `# Written by k8s-image: holds ${vip} on the first healthy lb node (${lbs.map((n) => n.name).join(', ')}).`,
    'global_defs {',
    `    router_id ${node.name}`,
    '    # Run check scripts as root, refuse scripts others could modify.',
    '    script_user root',
    '    enable_script_security',
    '}',
    '',
    '# Healthy while the proxy process runs; two misses in a row release the address.',
    'vrrp_script chk_proxy {',
    `    script "/usr/bin/pgrep -x ${proxy}"`,
    '    interval 2',
    '    fall 2',
    '    rise 2',
    '}',
    '',
    'vrrp_instance kube_apiserver {',
    '    state BACKUP',
    // Config refuses a virtual IP on an lb node without an interface name.
    `    interface ${node.interface!}`,
    `    virtual_router_id ${virtualRouterId(vip)}`,
    `    priority ${150 - 10 * index}`,
    '    advert_int 1',
    // A lone lb node has no peer to talk to: it just holds the address (no unicast block, which
    // keepalived rejects when empty).
    ...(peers.length > 0 ? [`    unicast_src_ip ${node.ip}`, '    unicast_peer {', ...peers, '    }'] : []),
    '    virtual_ipaddress {',
    `        ${vip}/${node.prefix} dev ${node.interface!}`,
    '    }',
    '    track_script {',
    '        chk_proxy',
    '    }',
    '}',
    '',
  ].join('\n');
}

function usesKeepalived(cluster: Cluster, node: Node | undefined): node is Node {
  return cluster.loadBalancer.virtualIP !== undefined && node !== undefined && node.role === 'lb';
}

/** Files of an lb node: the proxy's config, and keepalived's when a virtual IP is set (needs `node`). */
export function lbFiles(cluster: Cluster, node?: Node): PlanFile[] {
  const files: PlanFile[] =
    cluster.loadBalancer.kind === 'nginx'
      ? [{ path: '/etc/nginx/nginx.conf', content: nginxConf(cluster), mode: 0o644, secret: false }]
      : [{ path: '/etc/haproxy/haproxy.cfg', content: haproxyCfg(cluster), mode: 0o644, secret: false }];
  if (usesKeepalived(cluster, node)) {
    files.push({ path: '/etc/keepalived/keepalived.conf', content: keepalivedConf(cluster, node), mode: 0o644, secret: false });
  }
  return files;
}

/** nginx on CentOS 7 comes from EPEL (stream as nginx-mod-stream); haproxy and keepalived are in base. */
export function lbPackages(cluster: Cluster): string[] {
  const proxy = cluster.loadBalancer.kind === 'nginx' ? ['nginx', 'nginx-mod-stream'] : ['haproxy'];
  return cluster.loadBalancer.virtualIP !== undefined ? [...proxy, 'keepalived'] : proxy;
}

/** The proxy's unit. */
function lbService(cluster: Cluster): string {
  return cluster.loadBalancer.kind;
}

/** Every unit an lb node enables at boot: the proxy, and keepalived when a virtual IP is set. */
export function lbServices(cluster: Cluster): string[] {
  return cluster.loadBalancer.virtualIP !== undefined ? [lbService(cluster), 'keepalived'] : [lbService(cluster)];
}

/**
 * IP protocols an lb node's firewalld zone must accept when os.firewall is `open`, as
 * `<protocol value="..."/>` elements (firewalld 0.4+, CentOS 7 ships 0.6): VRRP (IP protocol 112)
 * between the keepalived peers, or the backup never hears the master and both hold the address.
 */
export function lbFirewallProtocols(cluster: Cluster): string[] {
  return cluster.loadBalancer.virtualIP !== undefined ? ['vrrp'] : [];
}

/**
 * loadBalancer.kind local: every non-master runs the same proxy (nginxConf / haproxyCfg, listening on
 * 127.0.0.1:6443 only) in front of every master, and resolves the endpoint name to 127.0.0.1; masters
 * resolve it to themselves. Nothing is edited after the join: kubelet.conf, admin.conf and kube-proxy's
 * kubeconfig all carry the name from the start.
 */
export function isLocalProxyNode(cluster: Cluster, node: Node): boolean {
  return cluster.loadBalancer.mode === 'local' && node.role === 'node';
}

/** The drop-in that orders the proxy before first boot, so the join finds it listening (systemd 219: Before= in a drop-in). */
export const LOCAL_PROXY_DROP_IN = 'k8s-image-local-endpoint.conf';

export function localProxyDropIn(cluster: Cluster): PlanFile {
  const unit = lbService(cluster);
  return {
    path: `/etc/systemd/system/${unit}.service.d/${LOCAL_PROXY_DROP_IN}`,
    content: [
      `# Written by k8s-image: ${unit} on 127.0.0.1:${API_SERVER_PORT} is how this node reaches the API servers`,
      `# (${cluster.controlPlaneEndpoint.host} is 127.0.0.1 in /etc/hosts): up before first boot joins through it.`,
      '[Unit]',
      'Before=k8s-image-firstboot.service',
      '',
    ].join('\n'),
    mode: 0o644,
    secret: false,
  };
}

/** Files, packages and units of a non-master with loadBalancer.kind local (no keepalived: there is no virtual IP). */
export function localProxy(cluster: Cluster): { files: PlanFile[]; packages: string[]; services: string[] } {
  return { files: [...lbFiles(cluster), localProxyDropIn(cluster)], packages: lbPackages(cluster), services: lbServices(cluster) };
}

/**
 * The endpoint's lines in /etc/hosts with loadBalancer.kind local. A worker: 127.0.0.1 (its proxy).
 * A master: itself first, then the other masters. The kubelet and kubeadm are Go programs built
 * without cgo: Go's resolver returns every /etc/hosts address of a name in file order and its dialer
 * tries them in turn, moving on at once from a refused connection. So a master whose API server is not
 * up yet (a control-plane join: discovery, TLS bootstrap, etcd join) reaches another master through the
 * same name, and once its own API server listens, itself; nothing changes in the file after the join.
 * glibc (curl, ssh) reads all lines too: CentOS 7's /etc/host.conf has `multi on`.
 */
export function localEndpointHosts(cluster: Cluster, node: Node): string[] {
  const name = cluster.controlPlaneEndpoint.host;
  if (node.role !== 'master') return [`127.0.0.1 ${name}`];
  const others = masters(cluster).filter((m) => m !== node);
  return [`${node.ip} ${name}`, ...others.map((m) => `${m.ip} ${name}`)];
}
