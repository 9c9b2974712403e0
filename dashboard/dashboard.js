import { watchAgents } from './agents.js';
import { followTopology } from './events.js';
import { TopologyModel } from './model.js';
import { drawPicture } from './picture.js';
import { session } from './session.js';

// The page: log in, follow the topology stream into the model, and redraw (at most once a frame)
// the picture and the hosts table for the selected project. Admins choose any project or all of
// them and see agents' health; members see their own project.

const $ = (id) => document.getElementById(id);
const model = new TopologyModel();
let stream;
let agentWatch;
/** The last agents reading: a list, or null before the first or when it failed. */
let agents = null;
/** '' = all projects (admins); set from the first snapshot. */
let project = null;
/** What the next frame redraws: 'all', 'hosts' (an agents reading changes only the table), or nothing. */
let pending = null;

const CONNECTION_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', idle: 'not connected' };

function setConnection(state) {
  document.body.dataset.connection = state;
  $('connection').textContent = CONNECTION_TEXT[state] ?? state;
}

function stop() {
  stream?.stop();
  agentWatch?.stop();
  stream = undefined;
  agentWatch = undefined;
  agents = null;
  project = null;
  setConnection('idle');
}

function showLogin(message = '') {
  stop();
  document.body.dataset.state = 'login';
  $('login-error').textContent = message;
  $('token').focus();
}

function start() {
  document.body.dataset.state = 'live';
  stream = followTopology({
    snapshot(data) {
      model.load(data);
      if (project === null || !data.caller.admin) project = data.caller.admin ? '' : data.caller.project_id;
      if (data.caller.admin && !agentWatch) {
        agentWatch = watchAgents((list) => {
          agents = list;
          queueDraw('hosts');
        });
      }
      queueDraw();
    },
    changes(data) {
      if (!model.apply(data)) return;
      agentWatch?.changed();
      queueDraw();
    },
    state: setConnection,
    rejected() {
      session.logout();
      showLogin('The controller refused this token.');
    },
  });
}

function queueDraw(what = 'all') {
  const first = pending === null;
  if (pending !== 'all') pending = what;
  if (!first) return;
  requestAnimationFrame(() => {
    const all = pending === 'all';
    pending = null;
    draw(all);
  });
}

function drawProjects() {
  const select = $('project');
  const admin = !!model.caller?.admin;
  const ids = admin ? ['', ...[...new Set([...model.projects(), project])].filter(Boolean).sort()] : [model.caller.project_id];
  const options = ids.map((id) => {
    const option = document.createElement('option');
    option.value = id;
    option.textContent = id === '' ? 'All projects' : id === model.caller.project_id ? `${id} (yours)` : id;
    return option;
  });
  select.replaceChildren(...options);
  select.value = project;
  select.disabled = !admin;
}

function cell(row, content, attrs = {}) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  for (const [k, v] of Object.entries(attrs)) td.setAttribute(k, v);
  row.append(td);
}

function badge(text, kind) {
  const span = document.createElement('span');
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

function drawHosts(portsByHost) {
  const body = $('hosts').tBodies[0];
  const admin = !!model.caller?.admin;
  const agentByHost = new Map((agents ?? []).map((a) => [a.host, a]));
  const hosts = [...new Set([...agentByHost.keys(), ...portsByHost.keys()])].sort();
  body.replaceChildren(...hosts.map((host) => {
    const agent = agentByHost.get(host);
    const applied = agent?.configurations?.applied_revision ?? null;
    const lag = applied === null ? null : Math.max(0, model.revision - applied);
    const row = document.createElement('tr');
    Object.assign(row.dataset, {
      kind: 'host', host, agent: agent ? (agent.alive ? 'alive' : 'down') : 'none',
      applied: applied ?? '', lag: lag ?? '',
    });
    cell(row, host);
    cell(row, agent ? badge(agent.alive ? 'alive' : 'down', agent.alive ? 'alive' : 'down') : badge('no agent', 'none'));
    cell(row, applied === null ? '—' : String(applied));
    cell(row, lag === null ? '—' : lag === 0 ? 'in sync' : `${lag} behind`);
    cell(row, String(portsByHost.get(host) ?? 0));
    return row;
  }));
  $('hosts-note').textContent = !admin
    ? 'Hosts and agents are shown to admins only.'
    : agents === null ? 'Reading agents…' : hosts.length ? '' : 'No agent has registered.';
}

function draw(all) {
  if (!model.caller) return;
  // A member's stream already holds only what they may see: all of it is drawn, their shared and
  // external networks included; an admin's holds every project, and the selector picks one.
  const scene = model.scene(model.caller.admin ? project : '');
  if (all) {
    drawProjects();
    drawPicture($('picture'), scene);
  }
  drawHosts(scene.hosts);
  $('revision').textContent = `revision ${model.revision}`;
  // Last: the picture is drawn for this revision (the browser test waits on it).
  document.body.dataset.revision = String(model.revision);
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('token');
  if (!input.value.trim()) return;
  session.login(input.value);
  input.value = '';
  start();
});
$('logout').addEventListener('click', () => {
  session.logout();
  showLogin();
});
$('project').addEventListener('change', (event) => {
  project = event.target.value;
  queueDraw();
});

if (session.token) start();
else showLogin();
