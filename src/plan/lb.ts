import type { Cluster } from '../config/index.js';
import type { PlanFile } from './types.js';

function masters(cluster: Cluster): string[] {
  return cluster.nodes.filter((n) => n.role === 'master').map((n) => n.ip);
}

/** nginx `stream` (L4) proxy in front of every master's 6443, as seed 004 builds by hand. */
export function nginxConf(cluster: Cluster): string {
  const upstream = masters(cluster).map((ip) => `        server ${ip}:6443 max_fails=2 fail_timeout=10s;`);
  return [
    '# Written by k8s-image: TCP proxy to every master\'s API server (seed 004).',
    'user nginx;',
    'worker_processes auto;',
    'error_log /var/log/nginx/error.log;',
    'pid /run/nginx.pid;',
    '# EPEL builds the stream module as a dynamic module (nginx-mod-stream).',
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
    '        least_conn;',
    ...upstream,
    '    }',
    '    server {',
    `        listen ${cluster.loadBalancer.port};`,
    '        proxy_pass kube_apiserver;',
    '        proxy_connect_timeout 2s;',
    '        proxy_timeout 10m;',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** haproxy TCP mode with active health checks of every master's /healthz port. */
export function haproxyCfg(cluster: Cluster): string {
  return [
    '# Written by k8s-image: TCP proxy to every master\'s API server.',
    'global',
    '    log /dev/log local0',
    '    maxconn 4000',
    '    daemon',
    '',
    'defaults',
    '    mode tcp',
    '    log global',
    '    option tcplog',
    '    timeout connect 5s',
    '    timeout client 10m',
    '    timeout server 10m',
    '',
    'frontend kube_apiserver',
    `    bind *:${cluster.loadBalancer.port}`,
    '    default_backend kube_apiserver',
    '',
    'backend kube_apiserver',
    '    balance roundrobin',
    '    option tcp-check',
    ...masters(cluster).map((ip, i) => `    server master${i + 1} ${ip}:6443 check inter 3s fall 2 rise 2`),
    '',
  ].join('\n');
}

export function lbFiles(cluster: Cluster): PlanFile[] {
  return cluster.loadBalancer.kind === 'nginx'
    ? [{ path: '/etc/nginx/nginx.conf', content: nginxConf(cluster), mode: 0o644, secret: false }]
    : [{ path: '/etc/haproxy/haproxy.cfg', content: haproxyCfg(cluster), mode: 0o644, secret: false }];
}

/** nginx on CentOS 7 comes from EPEL (stream as nginx-mod-stream); haproxy is in base. */
export function lbPackages(cluster: Cluster): string[] {
  return cluster.loadBalancer.kind === 'nginx' ? ['nginx', 'nginx-mod-stream'] : ['haproxy'];
}

export function lbService(cluster: Cluster): string {
  return cluster.loadBalancer.kind;
}
