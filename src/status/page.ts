/**
 * The status page: plain HTML rendered on the server (readable with JavaScript off, refreshed by a
 * meta tag there), made live by a small inline script that listens to /status/events (Server-Sent
 * Events) and updates only the changed row. Nothing is loaded from anywhere else. At 1000 nodes it
 * stays one table, with a filter box and counts per stage.
 */
import { STAGES, STAGE_TEXT } from './protocol.js';
import { ago, certsText, clockOffsetText, CERT_WARN_DAYS, type StatusDocument, type StatusRow } from './view.js';


const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function rowHtml(r: StatusRow, now: number): string {
  const cls = r.stage ?? 'none';
  const since = r.since === null ? '' : ago(now - r.since);
  const last = r.lastReport === null ? '' : `${ago(now - r.lastReport)} ago`;
  const log = r.hasFailureLog ? `<a class="log" href="/status/log/${esc(r.name)}">${r.stage === 'failed' ? 'failure log' : 'earlier failure'}</a>` : '';
  return (
    `<tr id="n-${esc(r.name)}" class="${cls}" data-since="${r.since ?? ''}" data-last="${r.lastReport ?? ''}">` +
    `<td>${esc(r.name)}</td><td>${esc(r.role)}</td><td>${esc(r.ip)}</td><td>${esc(r.mac)}</td>` +
    `<td class="stage">${esc(r.stageText)}</td><td class="since">${since}</td><td class="last">${last}</td><td class="fail">${log}</td>` +
    `<td class="clock">${clockCell(r.clockOffset)}</td>${certsCellHtml(r)}</tr>`
  );
}

/** The certificates column: a master's earliest expiry and the CA's, marked `warn` within CERT_WARN_DAYS or after a failed renewal. */
function certsCellHtml(r: StatusRow): string {
  return `<td class="${certsCellClass(r.certs)}">${esc(certsText(r.certs, CERT_WARN_DAYS))}</td>`;
}

function certsCellClass(c: StatusRow['certs']): string {
  return c?.warn ? 'certs warn' : 'certs';
}

/** The node's clock, shown only when it is off (a report is accepted whatever its clock says). */
function clockCell(offset: number | null): string {
  return offset === null || Math.abs(offset) < 120 ? '' : clockOffsetText(offset);
}

function countsHtml(doc: StatusDocument): string {
  return ['none', ...STAGES]
    .filter((s) => doc.counts[s])
    .map((s) => `<span class="count ${s}">${esc(s === 'none' ? 'no report' : STAGE_TEXT[s as keyof typeof STAGE_TEXT])}: <b>${doc.counts[s]}</b></span>`)
    .join(' ');
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:1.3em;margin:.2em 0}
#bar{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:.5em 0}
.count{padding:.1em .5em;border-radius:3px;background:#eee}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #ddd;white-space:nowrap}
th{position:sticky;top:0;background:#fafafa}
tr.failed td.stage,.count.failed{background:#fdd;color:#900;font-weight:bold}
tr.done td.stage,tr.ready td.stage,.count.done,.count.ready{background:#dfd}
tr.none td.stage{color:#888}
td.clock{color:#a60}
td.certs.warn{background:#fec;color:#900;font-weight:bold}
#live{color:#888}
#panel{position:fixed;inset:10% 10% auto 10%;max-height:75%;overflow:auto;background:#fff;border:1px solid #999;box-shadow:0 4px 20px #0004;padding:1em;display:none}
#panel pre{white-space:pre-wrap;font-size:12px}
`;

/** The client: live rows from /status/events, ticking "time in stage", the filter and the log panel. */
function clientScript(): string {
  return `
${ago.toString()}
${clockOffsetText.toString()}
${clockCell.toString()}
${certsText.toString()}
${certsCellClass.toString()}
const CERT_WARN_DAYS=${CERT_WARN_DAYS};
function placeCerts(tr,r){const c=tr.cells[9];c.className=certsCellClass(r.certs??null);c.textContent=certsText(r.certs??null,CERT_WARN_DAYS);}
const rows = document.getElementById('rows');
const live = document.getElementById('live');
function tick(){const now=Date.now()+skew;for(const tr of rows.rows){const s=tr.dataset.since,l=tr.dataset.last;if(s)tr.cells[5].textContent=ago(now-Number(s));if(l)tr.cells[6].textContent=ago(now-Number(l))+' ago';}}
let skew = Number(document.body.dataset.now) - Date.now();
setInterval(tick, 1000);
function place(r){
  let tr=document.getElementById('n-'+r.name);
  if(!tr){tr=rows.insertRow();tr.id='n-'+r.name;for(let i=0;i<10;i++)tr.insertCell();}
  tr.className=r.stage||'none';tr.dataset.since=r.since??'';tr.dataset.last=r.lastReport??'';
  const c=tr.cells;c[0].textContent=r.name;c[1].textContent=r.role;c[2].textContent=r.ip;c[3].textContent=r.mac;c[4].textContent=r.stageText;
  c[7].textContent='';c[8].textContent=clockCell(r.clockOffset??null);
  placeCerts(tr,r);
  if(r.hasFailureLog){const a=document.createElement('a');a.className='log';a.href='/status/log/'+encodeURIComponent(r.name);a.textContent=r.stage==='failed'?'failure log':'earlier failure';c[7].append(a);}
}
function counts(doc){document.getElementById('counts').innerHTML='';for(const [k,v] of Object.entries(doc.counts)){const s=document.createElement('span');s.className='count '+k;s.textContent=(labels[k]||k)+': ';const b=document.createElement('b');b.textContent=v;s.append(b);document.getElementById('counts').append(s,' ');}}
const labels=${JSON.stringify({ none: 'no report', ...STAGE_TEXT })};
async function reload(){const doc=await (await fetch('/status.json')).json();skew=doc.now-Date.now();for(const r of doc.nodes)place(r);counts(doc);tick();applyFilter();}
const es=new EventSource('/status/events');
es.addEventListener('node',(e)=>{const r=JSON.parse(e.data);place(r.row);counts(r);tick();applyFilter();live.textContent='live: last report '+new Date().toLocaleTimeString();});
es.onopen=()=>{live.textContent='live';reload();};
es.onerror=()=>{live.textContent='reconnecting to the server...';};
const filter=document.getElementById('filter');
function applyFilter(){const q=filter.value.trim().toLowerCase();for(const tr of rows.rows)tr.hidden=q!==''&&!tr.textContent.toLowerCase().includes(q);}
filter.addEventListener('input',applyFilter);
const panel=document.getElementById('panel');
rows.addEventListener('click',async(e)=>{const a=e.target.closest('a.log');if(!a)return;e.preventDefault();
  const res=await fetch(a.href);document.getElementById('panel-title').textContent=a.closest('tr').cells[0].textContent+': '+a.textContent;
  document.getElementById('panel-log').textContent=await res.text();panel.style.display='block';});
document.getElementById('panel-close').addEventListener('click',()=>{panel.style.display='none';});
document.addEventListener('keydown',(e)=>{if(e.key==='Escape')panel.style.display='none';});
`;
}

export function statusPage(doc: StatusDocument): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>k8s-image: ${esc(doc.cluster)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<style>${STYLE}${FARM_STYLE}</style></head>
<body data-now="${doc.now}">
<h1>Cluster ${esc(doc.cluster)}: ${doc.nodes.length} nodes</h1>
<div id="bar"><span id="counts">${countsHtml(doc)}</span><input id="filter" type="search" placeholder="filter: name, stage, IP" aria-label="filter"><span id="live">static page (JavaScript off: reloads every 10 s)</span></div>
${farmHtml(doc)}
<table><thead><tr><th>node</th><th>role</th><th>IP</th><th>MAC</th><th>stage</th><th>in stage</th><th>last report</th><th></th><th>node clock</th><th>certificates (earliest expiry · CA)</th></tr></thead>
<tbody id="rows">${doc.nodes.map((r) => rowHtml(r, doc.now)).join('\n')}</tbody></table>
<div id="panel" role="dialog"><button id="panel-close">close</button> <b id="panel-title"></b><pre id="panel-log"></pre></div>
<script>${clientScript()}${farmScript()}</script>
</body></html>
`;
}

// ---- The farm at a glance (issue 26): progress bars, one square per node, stuck and failed first. ----
// Kept apart from the table above (its own functions, style and script), which stays for search.

/**
 * How long a node may stay in a stage before the page calls it stuck (s): an install (anaconda,
 * packages over the farm's link, waiting for admission included) takes the longest; each first-boot
 * stage is minutes when it works.
 */
export const STAGE_DEADLINE_S: Partial<Record<string, number>> = { installing: 3600, installed: 1200, firstboot: 900, runtime: 900, init: 1200, join: 900, ready: 900 };
/** The stages a node goes through, in order, for the progress bars (failed is not progress). */
const PROGRESS = STAGES.filter((s) => s !== 'failed');

/** A node's group on the grid: its role and its /24 (a rack, as farms are usually cabled). */
function groupOf(r: StatusRow): string {
  const rack = /^(\d+\.\d+\.\d+)\.\d+$/.exec(r.ip);
  return `${r.role} · ${rack ? `${rack[1]}.0/24` : r.ip}`;
}

function squareHtml(r: StatusRow, now: number): string {
  const dl = r.stage ? STAGE_DEADLINE_S[r.stage] : undefined;
  const stuck = dl !== undefined && r.since !== null && now - r.since > dl * 1000;
  return `<i id="q-${esc(r.name)}" class="${r.stage ?? 'none'}${stuck ? ' stuck' : ''}" data-since="${r.since ?? ''}" title="${esc(r.name)} ${esc(r.ip)}: ${esc(r.stageText)}"></i>`;
}

/** Reached at least each stage, out of all nodes; and the overall share done. */
function progressHtml(doc: StatusDocument): string {
  const total = doc.nodes.length || 1;
  const rank = (s: string | null) => (s === null || s === 'failed' ? -1 : PROGRESS.indexOf(s as (typeof PROGRESS)[number]));
  const reached = PROGRESS.map((_, i) => doc.nodes.filter((r) => rank(r.stage) >= i).length);
  const bar = (id: string, label: string, n: number) =>
    `<div class="pb" id="pb-${id}"><span class="pl">${esc(label)}</span><span class="pt"><span class="pf ${id}" style="width:${((100 * n) / total).toFixed(1)}%"></span></span><span class="pn">${n} / ${doc.nodes.length}</span></div>`;
  return bar('overall', 'overall (bootstrap done)', reached[PROGRESS.indexOf('done')]!) + PROGRESS.map((s, i) => bar(s, STAGE_TEXT[s], reached[i]!)).join('');
}

/** serve --max-installing: how many install now, at most, and wait. */
export function admissionText(a: StatusDocument['admission']): string {
  if (!a) return '';
  return `installing now: ${a.installing} of at most ${a.max} (serve --max-installing) · waiting their turn: ${a.waiting} · waited so far: ${a.waited}, longest ${ago(a.longestWaitSeconds * 1000)}`;
}

function farmHtml(doc: StatusDocument): string {
  const groups = new Map<string, StatusRow[]>();
  for (const r of doc.nodes) {
    const g = groupOf(r);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  const attention = doc.nodes.filter((r) => r.stage === 'failed' || (r.stage && STAGE_DEADLINE_S[r.stage] !== undefined && r.since !== null && doc.now - r.since > STAGE_DEADLINE_S[r.stage]! * 1000));
  attention.sort((a, b) => (a.stage === 'failed' ? 0 : 1) - (b.stage === 'failed' ? 0 : 1) || (a.since ?? 0) - (b.since ?? 0));
  const legend = ['none', ...STAGES].map((s) => `<span><i class="${s}"></i>${esc(s === 'none' ? 'no report' : STAGE_TEXT[s as keyof typeof STAGE_TEXT])}</span>`).join('') + '<span><i class="installing stuck"></i>stuck past its stage\'s deadline</span>';
  return `<section id="farm">
<div id="admission">${esc(admissionText(doc.admission))}</div>
<div id="progress">${progressHtml(doc)}</div>
<h2>Needs attention: <span id="att-n">${attention.length}</span> <small>(failed, then stuck longest)</small></h2>
<div id="attention" class="sq">${attention.map((r) => squareHtml(r, doc.now).replace('id="q-', 'data-n="').replace('"></i>', `">${esc(r.name)}</i>`)).join('')}</div>
<h2>Nodes by role and subnet <small id="legend">${legend}</small></h2>
<div id="grid">${[...groups].map(([g, rows]) => `<div class="grp"><div class="gh">${esc(g)} (${rows.length})</div><div class="sq">${rows.map((r) => squareHtml(r, doc.now)).join('')}</div></div>`).join('')}</div>
</section>`;
}

const FARM_STYLE = `
#farm h2{font-size:1em;margin:.6em 0 .2em}
#farm small{font-weight:normal;color:#666}
#admission{color:#333;margin:.2em 0}
.pb{display:flex;align-items:center;gap:.5em;font-size:12px;margin:1px 0}
.pl{width:16em;text-align:right;color:#444}
.pt{flex:1;max-width:40em;height:10px;background:#eee;border-radius:2px;overflow:hidden}
.pf{display:block;height:100%;background:#6a6}
.pf.overall{background:#282}
.pn{width:8em;color:#444}
.sq{display:flex;flex-wrap:wrap;gap:1px}
.sq i{display:block;width:8px;height:8px;background:#ccc;cursor:pointer}
#attention i{width:auto;height:auto;padding:0 .3em;font:11px/1.4 system-ui;font-style:normal;color:#fff}
#legend span{margin-left:.8em;white-space:nowrap}
#legend i{display:inline-block;width:8px;height:8px;margin-right:.2em}
#attention{max-height:5.6em;overflow:auto}
.grp{display:inline-block;vertical-align:top;margin:0 1em .4em 0;max-width:100%}
.gh{font-size:11px;color:#555}
#grid .sq{max-width:${26 * 9}px}
i.none{background:#ddd}i.installing{background:#9bd}i.installed{background:#58b}i.firstboot{background:#a8d}i.runtime{background:#86c}
i.init,i.join{background:#db5}i.ready{background:#8c8}i.done{background:#2a2}i.failed{background:#d22}
i.stuck{outline:2px solid #f80;outline-offset:-2px}
#attention i.stuck{background:#e80}
tr.hl td{background:#ffc}
`;

/** The grid's client: hooks into the table script's place() and counts(), batches repaints per frame. */
function farmScript(): string {
  return `
(function(){
const deadline=${JSON.stringify(STAGE_DEADLINE_S)};
const order=${JSON.stringify(PROGRESS)};
const stage=new Map();
const grid=document.getElementById('grid');
for(const q of grid.querySelectorAll('i'))stage.set(q.id.slice(2),q.className.split(' ')[0]);
let dirty=false;
function repaint(){dirty=false;const total=stage.size||1;const reached=order.map(()=>0);
  for(const s of stage.values()){const k=order.indexOf(s);for(let i=0;i<=k;i++)reached[i]++;}
  const set=(id,n)=>{const b=document.getElementById('pb-'+id);if(!b)return;b.querySelector('.pf').style.width=(100*n/total).toFixed(1)+'%';b.querySelector('.pn').textContent=n+' / '+stage.size;};
  order.forEach((s,i)=>set(s,reached[i]));set('overall',reached[order.indexOf('done')]);attention();}
function later(){if(!dirty){dirty=true;requestAnimationFrame(repaint);}}
function stuck(q,now){const s=q.className.split(' ')[0],d=deadline[s],t=Number(q.dataset.since);return d!==undefined&&q.dataset.since!==''&&now-t>d*1000;}
function attention(){const now=Date.now()+skew;const list=[];
  for(const q of grid.querySelectorAll('i')){const st=stuck(q,now);q.classList.toggle('stuck',st);const s=q.className.split(' ')[0];if(s==='failed'||st)list.push([s==='failed'?0:1,Number(q.dataset.since)||0,q]);}
  list.sort((a,b)=>a[0]-b[0]||a[1]-b[1]);const box=document.getElementById('attention');box.textContent='';
  for(const [,,q] of list.slice(0,500)){const i=document.createElement('i');i.className=q.className;i.dataset.n=q.id.slice(2);i.title=q.title;i.textContent=q.id.slice(2);box.append(i);}
  document.getElementById('att-n').textContent=list.length;}
const basePlace=place;
place=function(r){basePlace(r);const q=document.getElementById('q-'+r.name);if(!q)return;
  q.className=r.stage||'none';q.dataset.since=r.since??'';q.title=r.name+' '+r.ip+': '+r.stageText;stage.set(r.name,r.stage||'none');later();};
// At 5,000 rows the table's per-report refresh (every row's "in stage", the filter) is what limits
// a burst of reports: it runs once per frame instead (the 1 s ticker and the filter box keep theirs).
const baseTick=tick,baseFilter=applyFilter;let tablePending=false;
function tableFrame(){if(!tablePending){tablePending=true;requestAnimationFrame(()=>{tablePending=false;baseTick();baseFilter();});}}
tick=tableFrame;applyFilter=tableFrame;
const baseCounts=counts;
const admissionText=${admissionText.toString()};
counts=function(d){baseCounts(d);if(d.admission)document.getElementById('admission').textContent=admissionText(d.admission);};
setInterval(later,5000);
function show(name){const tr=document.getElementById('n-'+name);if(!tr)return;filter.value='';baseFilter();
  for(const h of rows.querySelectorAll('tr.hl'))h.classList.remove('hl');tr.classList.add('hl');tr.scrollIntoView({block:'center'});
  const a=tr.querySelector('a.log');if(a)a.click();}
document.getElementById('farm').addEventListener('click',(e)=>{const q=e.target.closest('i[id^="q-"],#attention i');if(!q)return;show(q.dataset.n||q.id.slice(2));});
})();
`;
}
