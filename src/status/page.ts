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
<style>${STYLE}</style></head>
<body data-now="${doc.now}">
<h1>Cluster ${esc(doc.cluster)}: ${doc.nodes.length} nodes</h1>
<div id="bar"><span id="counts">${countsHtml(doc)}</span><input id="filter" type="search" placeholder="filter: name, stage, IP" aria-label="filter"><span id="live">static page (JavaScript off: reloads every 10 s)</span></div>
<table><thead><tr><th>node</th><th>role</th><th>IP</th><th>MAC</th><th>stage</th><th>in stage</th><th>last report</th><th></th><th>node clock</th><th>certificates (earliest expiry · CA)</th></tr></thead>
<tbody id="rows">${doc.nodes.map((r) => rowHtml(r, doc.now)).join('\n')}</tbody></table>
<div id="panel" role="dialog"><button id="panel-close">close</button> <b id="panel-title"></b><pre id="panel-log"></pre></div>
<script>${clientScript()}</script>
</body></html>
`;
}
