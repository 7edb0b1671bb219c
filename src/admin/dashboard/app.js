// thinggate dashboard: reads /api/v1/dashboard/stream (Server-Sent Events over fetch, so the
// bearer token can travel in a header) and renders one update a second. No dependencies.
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'thinggate.adminToken';
const MAX_EVENTS = 200;
const history = [];
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let updates = 0;

function headers() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

function text(el, value) {
  const s = value === null || value === undefined ? '–' : String(value);
  if (el.textContent !== s) el.textContent = s;
}

function cell(tr, value, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  text(td, value);
  tr.appendChild(td);
  return td;
}

function renderListeners(listeners) {
  const body = $('listeners').tBodies[0];
  body.replaceChildren(
    ...listeners.map((l) => {
      const tr = document.createElement('tr');
      tr.dataset.listener = l.name;
      cell(tr, `${l.name} (${l.protocol})`);
      cell(tr, l.address ?? 'stopped');
      cell(tr, l.connections, 'connections');
      cell(tr, l.messagesIn, 'messages-in');
      cell(tr, l.rates.accepted, 'accepted');
      cell(tr, l.rates.rejected, 'rejected');
      cell(tr, l.rates.unavailable, 'unavailable');
      cell(tr, l.protocolErrors, 'protocol-errors');
      return tr;
    }),
  );
}

async function drain(pool, index, undo) {
  await fetch(`/api/v1/pools/${encodeURIComponent(pool)}/endpoints/${index}/${undo ? 'undrain' : 'drain'}`, { method: 'POST', headers: headers() });
}

function renderPools(pools) {
  const rows = [];
  for (const p of pools) {
    p.endpoints.forEach((e, i) => {
      const tr = document.createElement('tr');
      tr.dataset.pool = p.name;
      tr.dataset.endpoint = e.url;
      cell(tr, i === 0 ? `${p.name}${p.pending ? ` (${p.pending} waiting)` : ''}` : '');
      cell(tr, e.url);
      const state = e.drained ? 'drained' : e.state;
      cell(tr, state, `state-${state}`);
      cell(tr, e.inflight);
      cell(tr, e.requests);
      cell(tr, e.failures);
      const td = cell(tr, '');
      const b = document.createElement('button');
      b.textContent = e.drained ? 'undrain' : 'drain';
      b.onclick = () => drain(p.name, i, e.drained);
      td.replaceChildren(b);
      rows.push(tr);
    });
  }
  $('pools').tBodies[0].replaceChildren(...rows);
}

/** Bans in force (GET /api/v1/bans), each dynamic one with a button that lifts it (DELETE). */
async function refreshBans() {
  const res = await fetch('/api/v1/bans', { headers: headers() });
  if (!res.ok) return;
  const bans = await res.json();
  $('bans').tBodies[0].replaceChildren(
    ...bans.map((b) => {
      const tr = document.createElement('tr');
      tr.dataset.ban = b.id;
      cell(tr, b.kind);
      cell(tr, b.value, 'value');
      cell(tr, b.reason);
      cell(tr, b.source);
      cell(tr, b.expiresAt ? new Date(b.expiresAt).toISOString().replace('T', ' ').slice(0, 19) : 'never', 'expires');
      const td = cell(tr, '');
      if (b.source !== 'config') {
        const button = document.createElement('button');
        button.textContent = 'lift';
        button.onclick = async () => {
          await fetch(`/api/v1/bans/${encodeURIComponent(b.id)}`, { method: 'DELETE', headers: headers() });
          await refreshBans();
        };
        td.replaceChildren(button);
      }
      return tr;
    }),
  );
}

const when = (iso) => iso.replace('T', ' ').slice(0, 23);
/** The device whose commands are shown (the Commands form). */
let commandsDevice = '';

/** One device's commands with every state's timestamp (GET …/commands); a queued one has a button that cancels it (DELETE). */
async function refreshCommands() {
  if (!commandsDevice) return;
  const device = commandsDevice;
  const base = `/api/v1/devices/${encodeURIComponent(device)}/commands`;
  const res = await fetch(base, { headers: headers() });
  if (device !== commandsDevice) return; // another device was asked for meanwhile
  if (!res.ok) {
    text($('commands-error'), res.status === 404 ? 'commands are not enabled on this gateway' : `the API answered ${res.status}`);
    $('commands').tBodies[0].replaceChildren();
    return;
  }
  const { commands } = await res.json();
  text($('commands-error'), commands.length === 0 ? `no commands for ${device}` : '');
  $('commands').tBodies[0].replaceChildren(
    ...commands.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.command = c.id;
      cell(tr, c.id, 'id');
      cell(tr, c.address);
      cell(tr, c.response);
      cell(tr, c.state, `state state-${c.state}`);
      const states = cell(tr, '', 'states');
      states.replaceChildren(
        ...Object.entries(c.timestamps).map(([state, at]) => {
          const div = document.createElement('div');
          div.dataset.state = state;
          div.textContent = `${state} ${when(at)}`;
          return div;
        }),
      );
      cell(tr, c.attempts);
      cell(tr, c.reason ?? '', 'reason');
      const td = cell(tr, '');
      if (c.state === 'queued') {
        const button = document.createElement('button');
        button.textContent = 'cancel';
        button.onclick = async () => {
          await fetch(`${base}/${encodeURIComponent(c.id)}`, { method: 'DELETE', headers: headers() });
          await refreshCommands();
        };
        td.replaceChildren(button);
      }
      return tr;
    }),
  );
}

$('commands-form').addEventListener('submit', (e) => {
  e.preventDefault();
  commandsDevice = $('commands-device').value.trim();
  if (!commandsDevice) {
    $('commands').tBodies[0].replaceChildren();
    text($('commands-error'), '');
    return;
  }
  void refreshCommands().catch(() => undefined);
});

function renderTalkers(el, talkers) {
  el.replaceChildren(
    ...talkers.map((t) => {
      const li = document.createElement('li');
      li.textContent = t.key;
      const n = document.createElement('span');
      n.textContent = `${t.messages}/s`;
      li.appendChild(n);
      return li;
    }),
  );
}

function addEvents(events) {
  const list = $('events');
  for (const e of events) {
    const li = document.createElement('li');
    li.className = e.category;
    li.dataset.kind = e.kind;
    const cat = document.createElement('span');
    cat.className = 'cat';
    cat.textContent = e.category;
    const where = [e.listener, e.clientId, e.remoteAddress].filter(Boolean).join(' ');
    li.append(cat, ` ${e.at.slice(11, 19)} ${e.kind} ${where ? `[${where}] ` : ''}${e.detail}`);
    list.prepend(li);
  }
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function spark(rate) {
  history.push(rate);
  if (history.length > 60) history.shift();
  const c = $('spark');
  const g = c.getContext('2d');
  const max = Math.max(1, ...history);
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = '#0969da';
  g.lineWidth = 2;
  g.beginPath();
  history.forEach((v, i) => {
    const x = (i / 59) * c.width;
    const y = c.height - 2 - (v / max) * (c.height - 4);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
}

function render(s) {
  text($('rate'), s.messagesPerSecond);
  text($('connections'), s.connections);
  text($('p50'), s.latencyMs.p50);
  text($('p90'), s.latencyMs.p90);
  text($('p99'), s.latencyMs.p99);
  text($('script-errors'), s.scriptErrors.total);
  text($('script-error-rate'), s.scriptErrors.perSecond);
  const ready = $('ready');
  ready.className = `badge ${s.ready.ready ? 'ok' : 'bad'}`;
  text(ready, s.ready.ready ? 'ready' : `not ready: ${s.ready.reasons.join('; ')}`);
  text($('updated'), `updated ${s.at.slice(11, 19)}`);
  renderListeners(s.listeners);
  renderPools(s.pools);
  renderTalkers($('top-devices'), s.topDevices);
  renderTalkers($('top-addresses'), s.topAddresses);
  addEvents(s.events);
  spark(s.messagesPerSecond);
  // Bans change rarely: re-read every few updates, and at once when a ban event arrives.
  if (++updates % 5 === 1 || s.events.some((e) => e.kind === 'banned')) void refreshBans().catch(() => undefined);
  // The shown device's commands: every few updates, and at once when one of them changes state.
  if (updates % 5 === 1 || s.events.some((e) => e.category === 'command' && e.clientId === commandsDevice)) void refreshCommands().catch(() => undefined);
}

function online(on) {
  const b = $('link');
  b.className = `badge ${on ? 'ok' : 'off'}`;
  b.textContent = on ? 'live' : 'offline';
}

/** Reads the SSE stream (event blocks separated by a blank line) and renders each `update`. */
async function follow() {
  const res = await fetch('/api/v1/dashboard/stream', { headers: headers() });
  if (res.status === 401) {
    $('login').hidden = false;
    $('login-error').textContent = token ? 'the token was refused' : '';
    online(false);
    return false;
  }
  $('login').hidden = true;
  online(true);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event === 'update' && data) render(JSON.parse(data));
    }
  }
  online(false);
  return true;
}

async function run() {
  for (;;) {
    let again = true;
    try {
      again = await follow();
    } catch {
      online(false);
    }
    if (!again) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  void run();
});

void run();
