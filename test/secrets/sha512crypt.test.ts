import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { sha512Crypt } from '../../src/secrets/index.js';
import { openssl } from './_openssl.js';

// Passwords go to openssl as a positional argv element (no shell); none start with "-", which
// openssl would read as an option. `openssl passwd` truncates passwords to 256 characters, so the
// longest case here is exactly 256 bytes; longer ones are checked against glibc below.
const cases: Array<[string, string]> = [
  ['Hello world!', 'saltstring'],
  ['password', 'a'],
  ['x', 'abcdefghijklmnop'], // 16 chars: the maximum
  ['x', 'abcdefghijklmnopqrstuvwxyz'], // longer salts are cut to 16
  ['correct horse battery staple', 'Zz09./Zz09./Zz09'],
  ['a'.repeat(63), 'len63'],
  ['b'.repeat(64), 'len64'],
  ['c'.repeat(65), 'len65'],
  ['The quick brown fox jumps over the lazy dog. '.repeat(5) + 'x'.repeat(31), 'longpassword'], // 256 bytes: openssl's cap
  ['pässwörd ✓ 日本語', 'utf8salt'], // multi-byte UTF-8
  ['has spaces and $dollars$', 'q.W/e'],
  ['rounds', 'rounds=1000$short'],
  ['more rounds', 'rounds=12345$sixteencharsalt!'],
  ['too few rounds', 'rounds=10$clamped'],
  ['explicit default', 'rounds=5000$abc'],
];

test('sha512Crypt matches `openssl passwd -6 -salt` for varied passwords and salts', () => {
  for (const [pw, salt] of cases) {
    const expected = openssl(['passwd', '-6', '-salt', salt, pw]).trim();
    assert.equal(sha512Crypt(pw, salt), expected, `password ${JSON.stringify(pw)} salt ${JSON.stringify(salt)}`);
  }
});

test('sha512Crypt reproduces the published glibc test vector', () => {
  // From Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification.
  assert.equal(
    sha512Crypt('Hello world!', 'saltstring'),
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  );
  assert.equal(
    sha512Crypt('Hello world!', 'rounds=10000$saltstringsaltstring'),
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  );
});

test('sha512Crypt accepts a full hash as its salt, so a stored hash can be re-checked', () => {
  const stored = openssl(['passwd', '-6', '-salt', 'verifyme', 'secret']).trim();
  assert.equal(sha512Crypt('secret', stored), stored);
  assert.notEqual(sha512Crypt('Secret', stored), stored);
});

test('sha512Crypt matches glibc crypt(3) for passwords longer than openssl accepts', (t) => {
  // Python's crypt module calls glibc crypt(3) directly; skip where it is unavailable (Python >= 3.13).
  const pw = 'The quick brown fox jumps over the lazy dog. '.repeat(9); // 405 bytes
  const r = spawnSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))', pw, '$6$longpassword'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0 || !r.stdout.startsWith('$6$')) {
    t.skip('python3 crypt module (glibc crypt) not available');
    return;
  }
  assert.equal(sha512Crypt(pw, 'longpassword'), r.stdout.trim());
});
