# k8s-image: report a stage of this node to the farm server (`k8s-image serve`), signed with this
# node's key (HMAC-SHA256 over "node|stage|time"; the server refuses other nodes' keys, old or
# replayed reports). Runs with CentOS 7's python 2.7 and with python 3. Never blocks long: a few
# tries with a short timeout, then exit 1 (the caller goes on).
# Usage: pxe-report.py URL NODE STAGE   (the key: /etc/k8s-image/report.key, or $K8S_IMAGE_REPORT_KEY)
import hashlib
import hmac
import os
import sys
import time

try:
    from urllib.parse import urlencode
    from urllib.request import urlopen
except ImportError:  # python 2
    from urllib import urlencode
    from urllib2 import urlopen

url, node, stage = sys.argv[1], sys.argv[2], sys.argv[3]
key = open(os.environ.get('K8S_IMAGE_REPORT_KEY', '/etc/k8s-image/report.key')).read().strip().encode('ascii')
tries = int(os.environ.get('K8S_IMAGE_REPORT_TRIES', '5'))
for attempt in range(tries):
    now = str(int(time.time()))
    sig = hmac.new(key, ('%s|%s|%s' % (node, stage, now)).encode('ascii'), hashlib.sha256).hexdigest()
    body = urlencode({'node': node, 'stage': stage, 'time': now, 'sig': sig}).encode('ascii')
    try:
        urlopen(url, body, 10).read()
        sys.exit(0)
    except Exception as e:
        sys.stderr.write('k8s-image report %s of %s failed (%s), attempt %d\n' % (stage, node, e, attempt + 1))
        if attempt + 1 < tries:
            time.sleep(3)
sys.exit(1)
