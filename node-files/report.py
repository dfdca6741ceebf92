# k8s-image report: tell the status server (`k8s-image serve`) that this node reached a stage.
#
# Usage: report.py [--log FILE] [--sync SECONDS] [--certs KUBE_DIR] URL NODE STAGE
#        report.py --flush URL     (send what is queued, add nothing)
#   --queue-only  sign and queue the report, send nothing (the scripts queue in their own order,
#                 in the foreground, then send with --flush in the background)
#   URL    the server's report endpoint (http://10.0.0.1:8080/report)
#   --log  attach the last 50 lines of FILE (failures), secrets masked on this node
#   --certs attach the certificates' expiry read from KUBE_DIR (kubeadm's /etc/kubernetes): the
#          earliest notAfter of the leaf certificates in pki/ and the client certificates embedded in
#          admin.conf, controller-manager.conf, scheduler.conf, super-admin.conf (and kubelet.conf while
#          it embeds one), and the earliest of the three CAs' (ca, front-proxy-ca, etcd/ca). A master's
#          `ready` and `done` reports carry it without the option (from $K8S_IMAGE_KUBE_DIR, default
#          /etc/kubernetes) when kubeadm's PKI is there; cert-renew.sh passes it on every run
#   --sync wait up to SECONDS for the queue to be sent (the install-once "installed" report);
#          without it, a few tries in the caller's background, then the queue waits for the next report
#
# Exit status: 0 sent; 1 not sent yet (server down, slow, or answering 408, 429 or 5xx: kept in the
# queue for the next try); 3 refused for good (any other 4xx: a bad signature, a report time too far
# off the server's clock, a replay), logged with the server's reason and dropped. Status 3 is about
# the report this run made (with --flush: about any report sent).
#
# Each report is signed when it is made (HMAC-SHA256 with this node's key over
# "node|stage|time|nonce|log", or "node|stage|time|nonce certs|log" when the report carries certificate
# expiry; the server refuses other keys, old times and seen nonces) and queued
# in $K8S_IMAGE_REPORT_SPOOL (/var/lib/k8s-image/reports): one sender at a time sends the queue
# oldest first, so reports arrive in the order they were made, and a server that is down loses
# nothing. Never fails its caller's work: callers run it in the background or log its status.
# Written for CentOS 7's python 2.7 (and python 3); talks to the server directly, never through a proxy.
import base64
import binascii
import calendar
import subprocess
import errno
import fcntl
import hashlib
import hmac
import os
import re
import sys
import time

try:
    from urllib.parse import urlencode
    from urllib.request import ProxyHandler, build_opener
    from urllib.error import HTTPError
except ImportError:  # python 2
    from urllib import urlencode
    from urllib2 import ProxyHandler, build_opener, HTTPError

LOG_LINES = 50
# The server takes 256 KiB per report, this URL-encoded (up to 3 bytes a character); a log of 50
# very long lines keeps its end.
LOG_BYTES = 48 * 1024
# What must not leave the node in a failure log: bootstrap tokens, certificate keys and other
# 64-hex secrets (sha256: hashes are public and stay), passwords in URLs, PEM private keys.
MASKS = [
    (re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b'), '<bootstrap-token>'),
    (re.compile(r'(?<!sha256:)\b[0-9a-f]{64}\b'), '<key>'),
    (re.compile(r'(://[^/\s:@]+:)[^/\s@]+@'), r'\1***@'),
    (re.compile(r'(password|passwd|secret)(["\']?\s*[:=]\s*)\S+', re.I), r'\1\2***'),
]
# [ ]: so this file never reads as holding a key to the checks that look for one.
PEM = re.compile(r'-----BEGIN [A-Z ]*PRIVATE[ ]KEY-----.*?(-----END [A-Z ]*PRIVATE[ ]KEY-----|\Z)', re.S)


def mask(text):
    text = PEM.sub('<private key>', text)
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text


def log_tail(path):
    try:
        with open(path, 'rb') as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 256 * 1024))
            lines = f.read().decode('utf-8', 'replace').splitlines()[-LOG_LINES:]
    except (IOError, OSError) as e:
        return '(cannot read %s: %s)' % (path, e)
    text = mask('\n'.join(lines))
    if len(text.encode('utf-8')) > LOG_BYTES:
        text = '(cut to its last %d bytes)\n' % LOG_BYTES + text.encode('utf-8')[-LOG_BYTES:].decode('utf-8', 'ignore')
    return text


def warn(msg):
    sys.stderr.write('k8s-image report: %s\n' % msg)


# kubeadm's leaf certificates (cmd/kubeadm/app/phases/certs/renewal: the renewal manager's list) and the
# kubeconfig files whose client certificate it renews; the cluster CA. Only those present count.
LEAF_CERTS = ['apiserver.crt', 'apiserver-kubelet-client.crt', 'apiserver-etcd-client.crt', 'front-proxy-client.crt',
              'etcd/server.crt', 'etcd/peer.crt', 'etcd/healthcheck-client.crt']
KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf']
CA_CERTS = ['ca.crt', 'front-proxy-ca.crt', 'etcd/ca.crt']
MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
KUBECONFIG_CERT = re.compile(r'^\s*client-certificate-data:\s*(\S+)\s*$', re.M)


def not_after(pem):
    """A certificate's notAfter as Unix seconds (openssl x509 -enddate: 'notAfter=Dec  6 19:01:10 2027 GMT')."""
    try:
        p = subprocess.Popen(['openssl', 'x509', '-noout', '-enddate'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.communicate(pem)[0].decode('ascii', 'replace').strip()
    except (IOError, OSError):
        return None  # no openssl (not installed): the report goes without the expiry
    m = re.match(r'^notAfter=(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$', out)
    if p.returncode != 0 or not m or m.group(1) not in MONTHS:
        return None
    mon, day, hh, mm, ss, year = MONTHS.index(m.group(1)) + 1, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6))
    return calendar.timegm((year, mon, day, hh, mm, ss, 0, 0, 0))


def read_bytes(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except (IOError, OSError):
        return None


def cert_expiry(kube_dir):
    """'<earliest leaf notAfter> <its file> <earliest CA notAfter>' from kubeadm's files, or '' when there is no PKI."""
    pki = os.path.join(kube_dir, 'pki')
    ca = read_bytes(os.path.join(pki, 'ca.crt'))
    ca_end = not_after(ca) if ca else None
    if ca_end is None:
        return ''
    # The CA field: the first of the three CAs to end (none of them is renewed by kubeadm).
    for name in CA_CERTS[1:]:
        pem = read_bytes(os.path.join(pki, name))
        end = not_after(pem) if pem else None
        if end is not None and end < ca_end:
            ca_end = end
    earliest = None
    for name in LEAF_CERTS:
        pem = read_bytes(os.path.join(pki, name))
        end = not_after(pem) if pem else None
        if end is not None and (earliest is None or end < earliest[0]):
            earliest = (end, name)
    # kubelet.conf counts while it embeds its client certificate (1.15/1.16 when cert-renew.sh could
    # not point it at the kubelet's rotated one): that certificate never rotates and ends in a year.
    for name in KUBECONFIGS + ['kubelet.conf']:
        text = read_bytes(os.path.join(kube_dir, name))
        m = KUBECONFIG_CERT.search(text.decode('utf-8', 'replace')) if text else None
        if not m:
            continue
        try:
            pem = base64.b64decode(m.group(1))
        except (TypeError, ValueError):
            continue
        end = not_after(pem)
        if end is not None and (earliest is None or end < earliest[0]):
            earliest = (end, name)
    if earliest is None:
        return ''
    return '%d %s %d' % (earliest[0], earliest[1], ca_end)


def make_report(key, node, stage, log, certs=''):
    now = str(int(time.time()))
    nonce = binascii.hexlify(os.urandom(16)).decode('ascii')
    # With certs: "node|stage|time|nonce certs|log" (protocol.ts reportSignature: unambiguous, the
    # bare nonce never holds a space); without: "node|stage|time|nonce|log", as ever.
    parts = [node, stage, now, nonce + ' ' + certs if certs else nonce, log]
    msg = '|'.join(parts).encode('utf-8')
    sig = hmac.new(key, msg, hashlib.sha256).hexdigest()
    fields = [('node', node), ('stage', stage), ('time', now), ('nonce', nonce), ('sig', sig)]
    if log:
        fields.append(('log', log.encode('utf-8')))
    if certs:
        fields.append(('certs', certs))
    return urlencode(fields).encode('ascii')


def enqueue(spool, body):
    # Named by the time in microseconds: sorting the names gives the order the reports were made.
    stamp = int(time.time() * 1000000)
    while True:
        path = os.path.join(spool, '%020d.report' % stamp)
        try:
            fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise
            stamp += 1
    os.write(fd, body)
    os.fsync(fd)
    os.close(fd)
    os.rename(path + '.tmp', path)
    return os.path.basename(path)


def queued(spool):
    return sorted(n for n in os.listdir(spool) if n.endswith('.report'))


# What the server answers when it may take the report later: a request timeout, "too many requests"
# (admission of install waves) and its own errors. Any other 4xx is a refusal for good (signature,
# a report time too far off its clock, a replayed nonce): sending the same bytes again cannot help.
RETRY_CODES = (408, 429)

# A master's certificates' expiry rides on these without --certs (first boot's reports: a master is Ready).
AUTO_CERT_STAGES = ('ready', 'done')

# send_queue's outcomes
SENT, KEPT = 'sent', 'kept'


def stage_of(body):
    m = re.search(r'(?:^|&)stage=([^&]*)', body.decode('ascii', 'replace'))
    return m.group(1) if m else '?'


def reason_of(e):
    """The server's reason for an HTTP error: its body's first line, else the status text; never raises."""
    text = ''
    try:
        text = e.read(2048).decode('utf-8', 'replace').strip().splitlines()[0]
    except Exception:  # no body, a reset connection, a body that times out: the status line is enough
        text = ''
    if not text:
        try:
            text = str(e.reason or e.msg or '')
        except Exception:
            text = ''
    return text.strip() or 'no reason given'


def send_queue(spool, url, opener):
    """Send the queue oldest first. Returns (outcome, refused): outcome is SENT when the queue is
    empty, KEPT when the server did not take one (it stays queued, with those after it); refused
    lists (name, stage, reason) of the reports the server refused for good (dropped)."""
    refused = []
    for name in queued(spool):
        path = os.path.join(spool, name)
        with open(path, 'rb') as f:
            body = f.read()
        stage = stage_of(body)
        try:
            opener.open(url, body, 5).read()
        except HTTPError as e:
            reason = reason_of(e)
            if 400 <= e.code < 500 and e.code not in RETRY_CODES:
                warn("report '%s' (%s) REFUSED by %s: %d %s; dropped (sending it again cannot help)" % (stage, name, url, e.code, reason))
                refused.append((name, stage, '%d %s' % (e.code, reason)))
            else:
                warn("report '%s' (%s): %s answered %d %s; kept for the next try" % (stage, name, url, e.code, reason))
                return KEPT, refused
        except Exception as e:  # down, slow, unreachable, timed out: keep it for later
            warn("report '%s' (%s): %s unreachable (%s); kept for the next try" % (stage, name, url, e))
            return KEPT, refused
        os.remove(path)
    return SENT, refused


def main(argv):
    log_file = None
    sync = None
    flush = False
    queue_only = False
    certs_dir = None
    while argv and argv[0].startswith('--'):
        if argv[0] == '--flush':
            flush, argv = True, argv[1:]
            continue
        if argv[0] == '--queue-only':
            queue_only, argv = True, argv[1:]
            continue
        if argv[0] == '--log' and len(argv) > 1:
            log_file, argv = argv[1], argv[2:]
        elif argv[0] == '--certs' and len(argv) > 1:
            certs_dir, argv = argv[1], argv[2:]
        elif argv[0] == '--sync' and len(argv) > 1:
            sync, argv = float(argv[1]), argv[2:]
        else:
            warn('unknown option %s' % argv[0])
            return 2
    if len(argv) != (1 if flush else 3):
        warn('usage: report.py [--log FILE] [--sync SECONDS] [--certs KUBE_DIR] URL NODE STAGE, or report.py --flush URL')
        return 2
    url = argv[0]
    key_file = os.environ.get('K8S_IMAGE_REPORT_KEY', '/etc/k8s-image/report.key')
    spool = os.environ.get('K8S_IMAGE_REPORT_SPOOL', '/var/lib/k8s-image/reports')
    tries = int(os.environ.get('K8S_IMAGE_REPORT_TRIES', '5'))
    pause = float(os.environ.get('K8S_IMAGE_REPORT_PAUSE', '3'))
    mine = None  # the report this run made: its fate is the exit status
    if flush:
        if not os.path.isdir(spool) or not queued(spool):
            return 0
    else:
        node, stage = argv[1], argv[2]
        if certs_dir is None and stage in AUTO_CERT_STAGES:
            kube_dir = os.environ.get('K8S_IMAGE_KUBE_DIR', '/etc/kubernetes')
            if os.path.isfile(os.path.join(kube_dir, 'pki', 'apiserver.crt')):
                certs_dir = kube_dir
        certs = cert_expiry(certs_dir) if certs_dir else ''
        if certs_dir and not certs:
            warn('no certificate expiry in %s (no kubeadm PKI there); reporting %s without it' % (certs_dir, stage))
        try:
            with open(key_file) as f:
                key = f.read().strip().encode('ascii')
            if not os.path.isdir(spool):
                os.makedirs(spool, 0o700)
            mine = enqueue(spool, make_report(key, node, stage, log_tail(log_file) if log_file else '', certs))
        except (IOError, OSError) as e:
            warn('cannot queue %s of %s: %s' % (stage, node, e))
            return 1
        if queue_only:
            return 0
    opener = build_opener(ProxyHandler({}))
    lock = open(os.path.join(spool, '.lock'), 'a')
    deadline = time.time() + (sync if sync is not None else tries * (pause + 5))
    attempt = 0
    refused = []

    def status(kept):
        # 3: refused for good (ours, or with --flush any); 1: kept for a later try; 0: sent.
        if any(name == mine or mine is None for name, _, _ in refused):
            return 3
        return 1 if kept else 0

    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError):
            if sync is None:
                return 0  # another sender holds the queue; it sends ours too (it looks again before it exits)
            if time.time() >= deadline:
                return 1
            time.sleep(0.2)
            continue
        try:
            outcome, dropped = send_queue(spool, url, opener)
            refused.extend(dropped)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        attempt += 1
        if outcome == SENT and not queued(spool):
            return status(False)
        if outcome == KEPT and (attempt >= tries and sync is None or time.time() + pause >= deadline):
            return status(True)
        if outcome == KEPT:
            time.sleep(pause)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
