/**
 * The dependency solver: Debian's dnf (libsolv), driven through its Python API by /usr/bin/python3,
 * fully isolated: no plugins (Debian's dnf-plugins-core `local` plugin would offer every package it
 * has ever seen as a repository), no host configuration or repository file, an empty install root,
 * releasever 7 and arch x86_64 whatever the host is. The pinned set is resolved as ONE transaction
 * (`dnf download --resolve` resolves each package alone and drags newer kubelet/cri-tools beside
 * the pinned ones). Packages of the `installer` repository (the DVD) count as already there: they
 * are part of the answer, marked, but never downloaded. The script prints JSON on stdout.
 */
export const RESOLVE_PY = String.raw`
import json, sys, os
cfg = json.load(sys.stdin)
try:
    import dnf, dnf.exceptions
except ImportError as e:
    sys.stderr.write('no python3-dnf: %s\n' % e)
    sys.exit(3)
base = dnf.Base()
conf = base.conf
conf.config_file_path = os.devnull
conf.reposdir = [cfg['reposdir']]
conf.installroot = cfg['root']
conf.cachedir = cfg['cache']
conf.logdir = cfg['cache']
conf.persistdir = os.path.join(cfg['root'], 'var/lib/dnf')
conf.substitutions['releasever'] = '7'
conf.substitutions['basearch'] = 'x86_64'
conf.substitutions['arch'] = 'x86_64'
conf.arch = 'x86_64'
conf.basearch = 'x86_64'
conf.install_weak_deps = False
conf.gpgcheck = False
conf.zchunk = False
conf.plugins = False
conf.skip_if_unavailable = False
conf.metadata_expire = 0
conf.module_platform_id = 'platform:el7'
conf.timeout = cfg.get('timeout', 60)
conf.retries = 3
conf.tsflags = ['nodocs']
for r in cfg['repos']:
    kw = {'baseurl': [r['baseurl']], 'cost': r.get('cost', 1000), 'enabled': True, 'gpgcheck': False, 'skip_if_unavailable': False}
    if r.get('proxy'):
        kw['proxy'] = r['proxy']
    base.repos.add_new_repo(r['id'], conf, **kw)
try:
    base.fill_sack(load_system_repo=False, load_available_repos=True)
except dnf.exceptions.RepoError as e:
    sys.stderr.write('repository: %s\n' % e)
    sys.exit(4)
missing = []
for spec in cfg['packages']:
    try:
        base.install(spec)
    except dnf.exceptions.MarkingError:
        missing.append(spec)
if missing:
    sys.stderr.write('no package in the repositories matches: %s\n' % ' '.join(missing))
    sys.exit(5)
try:
    base.resolve()
except dnf.exceptions.DepsolveError as e:
    sys.stderr.write('cannot resolve: %s\n' % str(e).replace('\n', '; '))
    sys.exit(6)
import hawkey
CK = {hawkey.CHKSUM_MD5: 'md5', hawkey.CHKSUM_SHA1: 'sha1', hawkey.CHKSUM_SHA256: 'sha256', hawkey.CHKSUM_SHA384: 'sha384', hawkey.CHKSUM_SHA512: 'sha512'}
out = []
for p in sorted(base.transaction.install_set, key=lambda p: (p.name, p.arch)):
    ck = p.chksum
    out.append({
        'name': p.name, 'epoch': p.epoch, 'version': p.version, 'release': p.release, 'arch': p.arch,
        'repo': p.reponame, 'location': p.location, 'url': p.remote_location(),
        'checksumType': CK.get(ck[0], str(ck[0])) if ck else None,
        'checksum': ck[1].hex() if ck else None,
        'size': p.downloadsize,
    })
print(json.dumps(out))
`;
