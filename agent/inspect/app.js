// SPDX-License-Identifier: MIT
// ttf inspector page: the list of recent exchanges (live, from /api/events), one exchange in
// detail (#/requests/ID), Replay and Replay with changes. Every captured byte is shown through
// textContent or form values, never parsed as HTML (the page's CSP also forbids inline code).
'use strict';

const $ = (id) => document.getElementById(id);
const rows = new Map(); // id -> <tr>
let selected = 0;
let detail = null; // the selected exchange's detail document
let refetching = false;

// A JSON string, or {"b64": "..."} for octets that are not UTF-8: shown with \xNN escapes.
function txt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && typeof v.b64 === 'string') {
    const bin = atob(v.b64);
    let out = '';
    for (let i = 0; i < bin.length; i++) {
      const c = bin.charCodeAt(i);
      out += c >= 0x20 && c < 0x7f ? bin[i] : '\\x' + c.toString(16).padStart(2, '0');
    }
    return out;
  }
  return String(v);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function size(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}

function statusClass(s) {
  if (s.state === 'pending') return 'spend';
  if (s.state === 'error') return 'serr';
  return 's' + String(s.status || 0)[0];
}

function statusText(s) {
  if (s.state === 'pending') return s.status ? s.status + ' …' : 'pending';
  if (s.state === 'error') return (s.status ? s.status + ' ' : '') + txt(s.error);
  return String(s.status);
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour12: false }) + '.' +
    String(d.getMilliseconds()).padStart(3, '0');
}

// ---- the list ----

function fillRow(tr, s) {
  tr.replaceChildren(
    el('td', 'time', clock(s.time)),
    el('td', 'method', txt(s.method)),
    pathCell(s),
    el('td', statusClass(s), statusText(s)),
    el('td', 'num', s.duration_ms === null ? '' : s.duration_ms + ' ms'),
    el('td', 'num', size(s.request_bytes)),
    el('td', 'num', size(s.response_bytes)));
  tr.title = txt(s.method) + ' ' + txt(s.target);
  tr.classList.toggle('replay', s.mode === 'replay');
  tr.dataset.id = s.id;
  tr.dataset.status = s.status === null ? '' : s.status;
  tr.dataset.state = s.state;
}

// ttf --config: the tunnel's name before the path
function pathCell(s) {
  const td = el('td', 'path', txt(s.target));
  if (s.tunnel) td.prepend(el('span', 'tun', s.tunnel));
  return td;
}

function upsert(s) {
  let tr = rows.get(s.id);
  if (!tr) {
    tr = document.createElement('tr');
    tr.addEventListener('click', () => { location.hash = '#/requests/' + tr.dataset.id; });
    rows.set(s.id, tr);
    // Newest first: insert before the first row with a smaller id.
    let before = null;
    for (const other of $('rows').children) {
      if (Number(other.dataset.id) < s.id) { before = other; break; }
    }
    $('rows').insertBefore(tr, before);
  }
  fillRow(tr, s);
  tr.classList.toggle('selected', s.id === selected);
  $('empty').hidden = rows.size > 0;
  if (s.id === selected && s.seq !== (detail && detail.seq)) loadDetail(s.id);
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!r.ok) throw new Error((doc && doc.error) || r.status + ' ' + r.statusText);
  return doc;
}

async function refetch() {
  if (refetching) return;
  refetching = true;
  try {
    const doc = await api('/api/requests?limit=200');
    const keep = new Set(doc.requests.map((s) => s.id));
    for (const [id, tr] of rows) {
      if (!keep.has(id)) { tr.remove(); rows.delete(id); }
    }
    for (const s of doc.requests.slice().reverse()) upsert(s);
    $('empty').hidden = rows.size > 0;
  } catch (e) {
    showError(e.message);
  } finally {
    refetching = false;
  }
}

async function status() {
  try {
    const st = await api('/api/status');
    const t = st.tunnel || {};
    if (st.tunnels) { // ttf --config: every tunnel of the connection
      $('tunnel').textContent = st.tunnels.map((u) => u.name + ': ' +
        (u.public_url ? u.public_url + ' → ' : '') + 'http://' + u.local).join('   ') +
        (t.state ? '  (' + t.state + ')' : '');
      return;
    }
    $('tunnel').textContent = (t.public_url ? t.public_url + ' → ' : '') + 'http://' + st.local +
      (t.state ? '  (' + t.state + ')' : '');
  } catch (e) { /* the header is informative only */ }
}

function live() {
  const es = new EventSource('/api/events');
  es.addEventListener('hello', () => {
    $('live').textContent = 'live';
    $('live').className = 'badge on';
    refetch();
    status();
  });
  es.addEventListener('update', (ev) => upsert(JSON.parse(ev.data)));
  es.addEventListener('reset', () => refetch());
  es.onerror = () => {
    $('live').textContent = 'reconnecting…';
    $('live').className = 'badge off';
  };
}

// ---- the detail ----

function headersTable(hs) {
  const t = el('table', 'headers');
  const body = el('tbody');
  for (const [n, v] of hs) {
    const tr = el('tr');
    tr.append(el('td', 'hn', txt(n)), el('td', 'hv', txt(v)));
    body.append(tr);
  }
  t.append(body);
  return t;
}

function bodyView(b, rawHref) {
  const box = el('div', 'bodyview');
  if (!b || b.kind === 'empty') {
    box.append(el('p', 'note', 'No body.'));
    return box;
  }
  const info = [size(b.size)];
  if (b.content_type) info.push(txt(b.content_type));
  info.push(b.kind === 'json' ? 'JSON' : b.kind);
  box.append(el('p', 'note', info.join(' · ')));
  if (b.kind === 'binary') {
    box.append(el('pre', 'body hex', b.hex || ''));
  } else {
    box.append(el('pre', 'body ' + b.kind, b.text || ''));
  }
  if (b.note) box.append(el('p', 'note warn', b.note));
  if (b.truncated) {
    box.append(el('p', 'note warn', 'Showing the first ' + size(b.captured) + ' of ' +
      size(b.size) + ' (the capture keeps --inspect-body-max bytes per body).'));
  }
  const a = el('a', '', 'Download the captured bytes');
  a.href = rawHref;
  a.className = 'note';
  box.append(a);
  return box;
}

function showError(msg) {
  const e = $('d-error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

function renderDetail(d) {
  detail = d;
  $('detail-pane').hidden = false;
  $('detail-pane').dataset.id = d.id;
  $('detail-pane').dataset.state = d.state;
  $('d-title').textContent = txt(d.method) + ' ' + txt(d.target);
  const meta = $('d-meta');
  meta.replaceChildren();
  const parts = [new Date(d.time).toLocaleString(), d.mode === 'replay' ? 'replay' : d.mode + ' mode'];
  if (d.tunnel) parts.push('tunnel ' + d.tunnel);
  if (d.duration_ms !== null) parts.push(d.duration_ms + ' ms');
  parts.push(d.state);
  meta.append(parts.join(' · '));
  if (d.replay_of) {
    meta.append(' · replay of ');
    const a = el('a', '', '#' + d.replay_of);
    a.href = '#/requests/' + d.replay_of;
    meta.append(a);
  }
  showError(d.error ? 'Error: ' + txt(d.error) : '');
  const rq = d.request;
  $('d-req').replaceChildren(
    el('p', 'startline', txt(rq.method) + ' ' + txt(rq.target) + ' HTTP/1.1'),
    headersTable(rq.headers),
    bodyView(rq.body, '/api/requests/' + d.id + '/request/body'));
  const rs = d.response;
  const resp = $('d-resp');
  if (!rs) {
    resp.replaceChildren(el('p', 'note', d.state === 'pending' ? 'Waiting for the response…' : 'No response.'));
  } else {
    const nodes = [];
    for (const s of rs.interim) nodes.push(el('p', 'note', 'Interim response ' + s));
    nodes.push(el('p', 'startline', 'HTTP/1.1 ' + rs.status + ' ' + rs.reason));
    nodes.push(headersTable(rs.headers));
    nodes.push(d.upgraded ? el('p', 'note', 'Upgraded: the connection became a raw pipe (' +
      size(d.response_bytes) + ').') : bodyView(rs.body, '/api/requests/' + d.id + '/response/body'));
    resp.replaceChildren(...nodes);
  }
}

async function loadDetail(id) {
  try {
    renderDetail(await api('/api/requests/' + id));
  } catch (e) {
    $('detail-pane').hidden = false;
    showError(e.message);
  }
}

function select() {
  const m = /^#\/requests\/(\d+)$/.exec(location.hash);
  selected = m ? Number(m[1]) : 0;
  for (const [id, tr] of rows) tr.classList.toggle('selected', id === selected);
  $('edit-form').hidden = true;
  if (selected) loadDetail(selected);
  else $('detail-pane').hidden = true;
  $('placeholder').hidden = selected !== 0;
}

// ---- replay ----

async function replay(edits) {
  if (!detail) return;
  try {
    const r = await api('/api/requests/' + detail.id + '/replay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(edits || {}),
    });
    $('edit-form').hidden = true;
    location.hash = '#/requests/' + r.id;
  } catch (e) {
    showError('Replay failed: ' + e.message);
  }
}

function headerLines(hs) {
  return hs.map(([n, v]) => txt(n) + ': ' + txt(v)).join('\n');
}

function openEditor() {
  const d = detail;
  if (!d) return;
  $('e-method').value = txt(d.request.method);
  $('e-target').value = txt(d.request.target);
  $('e-headers').value = headerLines(d.request.headers);
  const b = d.request.body;
  const shown = b && (b.kind === 'text' || b.kind === 'json') && !b.truncated;
  $('e-body').value = shown ? b.text : '';
  $('e-note').textContent = !b || b.kind === 'empty' || shown ? '' : 'The captured body is ' +
    (b.truncated ? 'cut short' : 'binary') + ': it is sent as captured unless you type a new one here.';
  $('e-body').dataset.initial = $('e-body').value;
  $('e-headers').dataset.initial = $('e-headers').value;
  $('edit-form').hidden = false;
  $('e-method').focus();
}

function parseHeaderLines(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error('header line without a name: ' + line);
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

function sendEdited(ev) {
  ev.preventDefault();
  const edits = { method: $('e-method').value.trim(), target: $('e-target').value.trim() };
  try {
    if ($('e-headers').value !== $('e-headers').dataset.initial) {
      edits.headers = parseHeaderLines($('e-headers').value);
    }
  } catch (e) {
    showError(e.message);
    return;
  }
  // Untouched, the captured bytes are sent as they were (the editor shows JSON pretty-printed).
  if ($('e-body').value !== $('e-body').dataset.initial) edits.body = $('e-body').value;
  replay(edits);
}

document.addEventListener('DOMContentLoaded', () => {
  $('clear').addEventListener('click', async () => {
    try { await api('/api/requests', { method: 'DELETE' }); } catch (e) { showError(e.message); }
    location.hash = '';
    refetch();
  });
  $('replay').addEventListener('click', () => replay({}));
  $('edit').addEventListener('click', openEditor);
  $('e-cancel').addEventListener('click', () => { $('edit-form').hidden = true; });
  $('edit-form').addEventListener('submit', sendEdited);
  window.addEventListener('hashchange', select);
  status();
  refetch().then(select);
  live();
  setInterval(status, 5000);
});
