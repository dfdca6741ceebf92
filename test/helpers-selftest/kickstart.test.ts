/** checkKickstart accepts a hand-written CentOS 7 kickstart and catches each kind of grammar error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKickstart, shlexSplit } from '../helpers/readers.js';

const VALID = `# hand-written CentOS 7.9 kickstart
text
cdrom
lang en_US.UTF-8
keyboard --vckeymap=us --xlayouts=us
timezone Etc/UTC --utc
network --bootproto=static --device=eth0 --ip=192.168.108.100 --netmask=255.255.255.0 --gateway=192.168.108.2 --nameserver=192.168.108.2,1.1.1.1 --hostname=node1.example.test --activate --onboot=yes
network --bootproto dhcp --device eth1 --onboot no
rootpw --iscrypted $6$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ./0123456789abcdefghijklmn
sshkey --username=root "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlahBlahBlahBlahBlahBlahBlahBlahBlahBlahBlah admin@example"
selinux --disabled
firewall --disabled
services --disabled=firewalld --enabled=chronyd
bootloader --location=mbr --append="console=tty0 console=ttyS0,115200n8"
zerombr
ignoredisk --only-use=sda
clearpart --all --initlabel --drives=sda
reqpart --add-boot
part / --fstype=xfs --grow --size=1 --ondisk=sda   # trailing comment
reboot --eject

%packages --ignoremissing --excludedocs
@core
chrony
-NetworkManager
%end

%post --log=/root/ks-post.log --erroronfail
set -eu
echo "--not-an-option in a body" > /root/x
systemctl enable chronyd
%end

%post --nochroot --log="/mnt/sysimage/root/ks-post-nochroot.log" --interpreter=/bin/bash
cp /etc/resolv.conf /mnt/sysimage/etc/resolv.conf
%end
`;

/** Replace one line of the valid kickstart (matched by its start) or append lines, and check. */
function variant(edit: (lines: string[]) => void): string[] {
  const lines = VALID.split('\n');
  edit(lines);
  return checkKickstart(lines.join('\n'));
}

function replaceLine(startsWith: string, replacement: string): string[] {
  return variant((lines) => {
    const i = lines.findIndex((l) => l.startsWith(startsWith));
    assert.ok(i >= 0, `no line starts with ${startsWith}`);
    lines[i] = replacement;
  });
}

function assertOneProblem(problems: string[], pattern: RegExp): void {
  assert.ok(problems.length >= 1, 'expected a problem, got none');
  assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}:\n${problems.join('\n')}`);
  for (const p of problems) assert.match(p, /^line \d+: /, 'every problem names its line');
}

test('shlexSplit behaves like shlex.split(comments=True)', () => {
  assert.deepEqual(shlexSplit('a "b c" --log="/r x" d\'e f\'g # c'), ['a', 'b c', '--log=/r x', 'de fg']);
  assert.deepEqual(shlexSplit('a b#c d'), ['a', 'b']);
  assert.deepEqual(shlexSplit('a "x\\"y" z\\ w'), ['a', 'x"y', 'z w']);
  assert.throws(() => shlexSplit('a "b'), /No closing quotation/);
});

test('a hand-written CentOS 7 kickstart passes', () => {
  assert.deepEqual(checkKickstart(VALID), []);
});

test('an unknown command is caught, with its line number and line', () => {
  const problems = replaceLine('selinux', 'selinuxx --disabled');
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.equal(problems[0], 'line 11: unknown command selinuxx: selinuxx --disabled');
});

test('an unknown option is caught', () => {
  assertOneProblem(replaceLine('firewall', 'firewall --disabled --no-such-thing'), /firewall: unknown option --no-such-thing/);
  // options are exact: optparse would take an unambiguous prefix, the checker does not
  assertOneProblem(replaceLine('network --bootproto=static', 'network --bootp=dhcp --device=eth0'), /unknown option --bootp\b/);
});

test('a flag given a value is caught', () => {
  assertOneProblem(replaceLine('reqpart', 'reqpart --add-boot=yes'), /--add-boot is a flag and takes no value/);
  assertOneProblem(replaceLine('%post --nochroot', '%post --nochroot=1 --log=/x'), /%post: option --nochroot is a flag/);
});

test('a missing required value is caught (end of line, or followed by another option)', () => {
  assertOneProblem(replaceLine('ignoredisk', 'ignoredisk --only-use'), /--only-use requires a value/);
  assertOneProblem(replaceLine('services', 'services --disabled --enabled=chronyd'), /--disabled requires a value/);
  assertOneProblem(replaceLine('%post --log=/root', '%post --log'), /%post: option --log requires a value/);
});

test('a value outside the choices, or of the wrong type, is caught', () => {
  assertOneProblem(replaceLine('bootloader', 'bootloader --location=gpt'), /--location value "gpt" is not one of mbr, partition, none, boot/);
  assertOneProblem(replaceLine('network --bootproto=static', 'network --bootproto=manual --device=eth0'), /--bootproto value "manual"/);
  assertOneProblem(replaceLine('part /', 'part / --fstype=xfs --size=big'), /--size needs an integer/);
  assertOneProblem(replaceLine('network --bootproto dhcp', 'network --bootproto dhcp --device eth1 --onboot maybe'), /--onboot needs a boolean/);
});

test('an unclosed section is caught, at the end and before the next section', () => {
  const atEnd = checkKickstart(VALID.replace(/%end\n$/, ''));
  assertOneProblem(atEnd, /section %post is not closed by %end$|section %post is not closed by %end:/);
  const beforeNext = variant((lines) => {
    const i = lines.indexOf('chrony');
    lines.splice(i + 2, 1); // drop the %end of %packages
  });
  assertOneProblem(beforeNext, /section %packages is not closed by %end before line \d+/);
  assertOneProblem(variant((l) => l.push('%end')), /%end without an open section/);
});

test('%certificate and unknown sections are rejected', () => {
  const problems = variant((l) => l.push('%certificate --filename=ca.pem --dir=/etc/pki', '-----BEGIN CERTIFICATE-----', '%end'));
  assertOneProblem(problems, /section %certificate is not valid on CentOS 7.9/);
  assertOneProblem(variant((l) => l.push('%postt', 'true', '%end')), /unknown section %postt/);
  // body lines of a section are not commands
  assert.deepEqual(variant((l) => l.push('%pre', 'selinuxx --bogus', 'rm -rf /tmp/x', '%end')), []);
});

test('removed and deprecated commands are rejected', () => {
  // The JSON has no command with status "removed"; RHEL6's interactive/key/monitor are listed as unknown in RHEL7.
  assertOneProblem(variant((l) => l.splice(2, 0, 'key --skip')), /unknown command key \(a RHEL6 command removed in RHEL7\)/);
  assertOneProblem(variant((l) => l.splice(2, 0, 'interactive')), /unknown command interactive \(a RHEL6 command removed in RHEL7\)/);
  assertOneProblem(variant((l) => l.splice(2, 0, 'upgrade')), /command upgrade is deprecated in RHEL7/);
  // deprecated and removed section options
  assertOneProblem(replaceLine('%packages', '%packages --nobase'), /--nobase is deprecated since F18/);
  assertOneProblem(replaceLine('%packages', '%packages --ignoredeps'), /--ignoredeps was removed in F9/);
});

test('a single-use command given twice is caught; multi-use commands are not', () => {
  assertOneProblem(variant((l) => l.push('poweroff')), /command poweroff repeats line \d+ \(single-use command\)/);
  assertOneProblem(variant((l) => l.splice(2, 0, 'lang de_DE.UTF-8')), /command lang repeats line/);
  assert.deepEqual(variant((l) => l.splice(2, 0, 'part /var --fstype=xfs --size=4096', 'sshkey --username=root "ssh-rsa AAAA x"')), []);
});

test('missing required options, unexpected arguments and bad quoting are caught', () => {
  assertOneProblem(replaceLine('sshkey', 'sshkey "ssh-ed25519 AAAA x"'), /sshkey: required option --username is missing/);
  assertOneProblem(replaceLine('zerombr', 'zerombr yes'), /zerombr: unexpected argument\(s\) "yes"/);
  assertOneProblem(replaceLine('bootloader', 'bootloader --location=mbr --append="console=tty0'), /cannot split: No closing quotation/);
});
