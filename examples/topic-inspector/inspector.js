// The page: reads the form, runs an InspectorSession, renders messages and offsets.
import { InspectorSession, describeError, parsePartitions } from './inspector-session.js';

const OFFSET_REFRESH_MS = 1000;
const byId = (id) => document.getElementById(id);
const tableBody = byId('messages').querySelector('tbody');

let session = null;
let offsetTimer = null;

byId('connect-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  await disconnect();
  showError(null);
  let partitions;
  try {
    partitions = parsePartitions(byId('partitions').value);
  } catch (error) {
    showError(error.message);
    return;
  }
  tableBody.replaceChildren();
  const peek = byId('peek').checked;
  session = new InspectorSession({
    url: byId('url').value.trim(),
    user: byId('user').value.trim(),
    password: byId('password').value,
    token: byId('token').value.trim(),
    topic: byId('topic').value.trim(),
    group: byId('group').value.trim(),
    partitions,
    peek,
    onMessages: (messages) => messages.forEach(appendMessage),
    onError: (text) => {
      showError(text);
      setStatus('Stopped after an error.');
    },
  });
  const current = session;
  try {
    await current.connect();
  } catch (error) {
    showError(describeError(error, current));
    setStatus('Not connected.');
    session = null;
    return;
  }
  setStatus(peek ? `Peeking at ${current.topic} (group ${current.group}, never acked).` : `Watching ${current.topic} as group ${current.group}.`);
  byId('disconnect').disabled = false;
  refreshCommitted();
  offsetTimer = setInterval(refreshCommitted, OFFSET_REFRESH_MS);
  current.run();
});

byId('disconnect').addEventListener('click', () => disconnect());
byId('filter-op').addEventListener('change', applyFilters);
byId('filter-user').addEventListener('input', applyFilters);

async function disconnect() {
  session?.stop();
  session = null;
  clearInterval(offsetTimer);
  byId('lag').querySelector('tbody').replaceChildren();
  byId('lag-note').textContent = 'Not connected.';
  byId('disconnect').disabled = true;
  setStatus('Not connected.');
}

function appendMessage(message) {
  const row = document.createElement('tr');
  row.dataset.op = message.op;
  row.dataset.user = message.user ?? '';
  row.dataset.offset = String(message.offset);
  row.dataset.partition = String(message.partition_id);
  const cells = [
    message.offset,
    message.partition_id,
    message.op,
    message.user ?? '(none)',
    message.key ?? '(null)',
    new Date(message.timestamp_ms).toISOString(),
  ];
  for (const value of cells) {
    const cell = document.createElement('td');
    cell.textContent = String(value);
    row.append(cell);
  }
  row.children[2].className = `op-${message.op}`;
  row.append(payloadCell(message), ackCell(message));
  tableBody.append(row);
  applyFilter(row);
}

function payloadCell(message) {
  const cell = document.createElement('td');
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const pre = document.createElement('pre');
  if (message.decode_error) {
    summary.textContent = `undecodable: ${message.decode_error.message}`;
    pre.textContent = message.decode_error.body ?? '';
  } else {
    const text = JSON.stringify(message.payload, null, 2);
    summary.textContent = JSON.stringify(message.payload).slice(0, 80);
    pre.textContent = text;
  }
  details.append(summary, pre);
  cell.className = 'payload';
  cell.append(details);
  return cell;
}

function ackCell(message) {
  const cell = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'ack';
  button.textContent = 'Ack up to here';
  button.disabled = session?.peek ?? true;
  button.title = button.disabled ? 'Peek mode never acks' : `Commit offsets up to ${message.offset} on partition ${message.partition_id}`;
  button.addEventListener('click', async () => {
    const current = session;
    if (!current) return;
    try {
      await current.ackUpTo(message.partition_id, message.offset);
      setStatus(`Acked partition ${message.partition_id} up to offset ${message.offset}.`);
      await refreshCommitted();
    } catch (error) {
      showError(describeError(error, current));
    }
  });
  cell.append(button);
  return cell;
}

let refreshing = false;

/** Redraws the committed offsets and the lag table; skipped while the previous refresh runs. */
async function refreshCommitted() {
  const current = session;
  if (!current || refreshing) return;
  refreshing = true;
  let lag;
  try {
    lag = await current.lag();
  } catch (error) {
    if (current === session) byId('lag-note').textContent = `Lag unavailable: ${describeError(error, current)}`;
    return;
  } finally {
    refreshing = false;
  }
  if (current !== session) return;
  const target = byId('committed');
  const rows = byId('lag').querySelector('tbody');
  if (lag === null) {
    target.textContent = 'not visible to this role (needs dba or system)';
    byId('lag-note').textContent =
      'Peek mode leaves the watched group alone: without access to system tables its lag would need a probe that can set where a new group starts.';
    rows.replaceChildren();
    return;
  }
  const committed = lag.partitions.filter((p) => p.committedOffset !== null);
  target.textContent = committed.length === 0 ? 'none yet' : committed.map((p) => `p${p.partitionId}: ${p.committedOffset}`).join(', ');
  const source = lag.method === 'system-tables' ? 'read from system.topic_offsets' : 'probed with limit-0 consumes';
  byId('lag-note').textContent = `Group ${lag.groupId} is ${lag.totalLag} behind in total (committed offsets ${source}).`;
  rows.replaceChildren(...lag.partitions.map(lagRow));
}

function lagRow(partition) {
  const row = document.createElement('tr');
  row.dataset.partition = String(partition.partitionId);
  for (const value of [partition.partitionId, partition.committedOffset ?? '–', partition.newestOffset ?? '–', partition.lag]) {
    const cell = document.createElement('td');
    cell.textContent = String(value);
    row.append(cell);
  }
  return row;
}

function applyFilters() {
  for (const row of tableBody.children) applyFilter(row);
}

function applyFilter(row) {
  const op = byId('filter-op').value;
  const user = byId('filter-user').value.trim();
  const visible = (!op || row.dataset.op === op) && (!user || row.dataset.user === user);
  row.classList.toggle('hidden', !visible);
}

function showError(text) {
  const box = byId('error');
  box.hidden = !text;
  box.textContent = text ?? '';
}

function setStatus(text) {
  byId('status').textContent = text;
}
