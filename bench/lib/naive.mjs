// The naive baseline: the loop the older KalamDB consumer ran (docs/PROTOCOL.md §7.2, §7.3):
// consume, handle each message, one HTTP ack per message, and a fixed 1 s sleep whenever the
// batch came back not full. Plain fetch, plain JSON + base64 decoding.
import { login } from './devserver.mjs';

export async function runNaiveConsumer({ url, user, password, topic, groupId, batchSize, start = 'Earliest', signal, onMessage }) {
  const token = await login(url, user, password);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const post = async (route, body) => {
    const res = await fetch(`${url}${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  while (!signal.aborted) {
    const batch = await post('/v1/api/topics/consume', {
      topic_id: topic, group_id: groupId, start, limit: batchSize, partition_id: 0, timeout_seconds: 30,
    });
    const messages = batch.messages ?? [];
    for (const m of messages) {
      if (signal.aborted) return;
      let payload;
      try { payload = JSON.parse(Buffer.from(m.payload, 'base64').toString('utf8')); } catch { payload = {}; }
      const row = payload && typeof payload.row === 'object' && payload.row !== null ? payload.row : payload;
      await onMessage({ ...m, topic: m.topic_id, group_id: groupId, payload, value: payload }, row);
      await post('/v1/api/topics/ack', { topic_id: topic, group_id: groupId, partition_id: m.partition_id ?? 0, upto_offset: m.offset });
    }
    if (!batch.has_more || messages.length < batchSize) await abortableSleep(1000, signal);
  }
}

function abortableSleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}
