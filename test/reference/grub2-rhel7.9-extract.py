#!/usr/bin/env python3
"""Regenerates the raw material of grub2-rhel7.9.json: for each module of the image, its x86_64-efi
sources (grub-core/Makefile.core.def, platform groups from gentpl.py) and the command names those
sources register (grub_register_command*/grub_register_extcmd* with a literal name).
Usage: grub2-rhel7.9-extract.py <bare or normal git dir of rhboot/grub2> [rhel-7.9] "<module list>"
Macro-named registrations come out as MACRO:<name> (search.c's three builds: search.file,
search.fs_uuid, search.fs_label; kern/command.c and normal/dyncmd.c are the registration code)."""
import re, subprocess, json, sys
REPO=sys.argv[1]; REF=sys.argv[2] if len(sys.argv) > 3 else 'rhel-7.9'
def show(p): return subprocess.run(['git','-C',REPO,'show',f'{REF}:{p}'],capture_output=True,text=True).stdout
commit=subprocess.run(['git','-C',REPO,'rev-parse',REF],capture_output=True,text=True).stdout.strip()
# platform groups from gentpl.py
g={}
src=show('gentpl.py')
ns={}
start=src.index('GRUB_PLATFORMS = ['); end=src.index('#\n# Create platform => groups reverse map')
exec(src[start:end], ns)
G=ns['GROUPS']; plat='x86_64_efi'
keys={k for k,v in G.items() if plat in v}|{plat}
# Makefile.core.def blocks
mk=show('grub-core/Makefile.core.def')
blocks=re.findall(r'^(module|kernel) = \{(.*?)^\};', mk, re.S|re.M)
mods={}
for kind,body in blocks:
    name=re.search(r'^\s*name = ([^;]+);',body,re.M).group(1).strip()
    if kind=='kernel': name='kernel'
    enable=[m.strip() for m in re.findall(r'^\s*enable = ([^;]+);',body,re.M)]
    if enable and not any(e in keys for e in enable): continue
    files=[]
    for k,v in re.findall(r'^\s*(\w+) = ([^;]+);',body,re.M):
        if k in keys and v.strip().endswith('.c'):
            files.append('grub-core/'+v.strip())
    mods.setdefault(name,[]).extend(files)
REG=re.compile(r'grub_register_(command|extcmd|command_prio|extcmd_prio|command_p1|command_lockdown|extcmd_lockdown)\s*\(\s*("([^"]+)"|(\w+))')
def cmds(files):
    out={}
    for f in files:
        t=show(f)
        for m in REG.finditer(t):
            nm=m.group(3) or ('MACRO:'+m.group(4))
            out.setdefault(nm,[]).append(f)
    return out
image=sys.argv[-1].split()
res={}
for m in ['kernel']+image:
    if m not in mods: res[m]={'error':'no module block for x86_64-efi'}; continue
    res[m]={'sources':sorted(set(mods[m])),'commands':cmds(mods[m])}
print(json.dumps({'commit':commit,'res':res},indent=1))
