// The run handle of runConsumer (issue 13 items 2 and 3): health() through a server restart,
// metrics() after failures and dead letters, the stall watchdog's lines, and OpenTelemetry
// spans and instruments recorded by the SDK's in-memory exporter and a test reader.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsumer, runAgent } from '@kalamdb/consumer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, waitFor, within, sleep } from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);

/** A logger that keeps every line, by level. */
function recordingLogger() {
  const lines = [];
  const at = (level) => (message) => lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function topicWithRows(n) {
  const t = await setupTopic(server);
  await insertRows(server, t.table, Array.from({ length: n }, (_, i) => ({ id: i + 1, body: `m${i + 1}` })));
  return t;
}

test('the handle is the run promise with health() and metrics(); health goes starting, running, reconnecting (since), running, stopping, stopped', async () => {
  const t = await topicWithRows(3);
  const client = clientFor(server, worker, { requestTimeoutMs: 2000 });
  const group = uniqueName('g');
  const controller = new AbortController();
  const run = runConsumer({
    ...fastRunOptions(), client, name: 'healthy', topic: t.topic, groupId: group, stopSignal: controller.signal,
    logger: false, onError: () => {}, onChange: async () => {},
  });
  assert.ok(run instanceof Promise, 'still a promise');
  assert.equal(typeof run.then, 'function');
  let rejected;
  run.catch((error) => { rejected = error; });
  const first = run.health();
  assert.equal(first.state, 'starting');
  assert.deepEqual(first.partitions, []);
  try {
    await waitFor(() => rejected || run.health().partitions[0]?.lastCommittedOffset === 2, { message: 'three messages committed' });
    let h = run.health();
    assert.equal(h.state, 'running');
    assert.deepEqual(h.partitions.map((p) => p.partitionId), [0]);
    const p0 = h.partitions[0];
    assert.equal(p0.lastDeliveredOffset, 2);
    assert.equal(p0.inFlight, 0);
    assert.equal(p0.attempt, 0);
    assert.equal(p0.currentOffset, null);
    assert.equal(p0.lastError, null);
    assert.equal(p0.stalled, false);
    assert.equal(h.fleet, undefined);

    const killedAt = Date.now();
    await server.kill();
    await waitFor(() => run.health().state === 'reconnecting', { message: 'state reconnecting' });
    h = run.health();
    assert.ok(h.since >= killedAt && h.since <= Date.now(), `reconnecting since the first failure (${h.since} vs kill at ${killedAt})`);
    assert.match(h.partitions[0].lastError ?? '', /refused|closed|reset|timed out/, `the failure in words: ${h.partitions[0].lastError}`);
    assert.ok(run.metrics().consume.errors > 0, 'failed polls are counted');

    await server.restart();
    await insertRows(server, t.table, [4, 5].map((id) => ({ id, body: `m${id}` })));
    await waitFor(() => rejected || (run.health().state === 'running' && run.health().partitions[0].lastCommittedOffset === 4), { message: 'running again, five committed', timeoutMs: 20_000 });
    assert.equal(rejected, undefined);
    h = run.health();
    assert.ok(h.since >= killedAt, 'a new running state after the reconnect');
    assert.equal(h.partitions[0].lastDeliveredOffset, 4);
    assert.equal(run.metrics().handled, 5);
  } finally {
    controller.abort();
    assert.equal(run.health().state, 'stopping', 'stopping as soon as stopSignal aborts');
    await within(15_000, run.catch(() => {}), 'runConsumer after stopSignal');
  }
  const end = run.health();
  assert.equal(end.state, 'stopped');
  assert.deepEqual(end.partitions, [], 'no partition runs after the end');
  assert.equal(await committedOffset(server, t.topic, group), 4);
});

test('metrics(): exact counts after a run with failed attempts, retries, a dead letter and a message that succeeds on its second attempt', async () => {
  const t = await topicWithRows(5);
  const client = clientFor(server, worker);
  const group = uniqueName('g');
  const controller = new AbortController();
  const seen = new Map();
  const dead = [];
  const run = runConsumer({
    ...fastRunOptions(), client, name: 'counted', topic: t.topic, groupId: group, stopSignal: controller.signal, logger: false,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    onChange: async (_ctx, change) => {
      const id = change.data.id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (id === '2') throw new Error('boom 2');
      if (id === '4' && seen.get(id) === 1) throw new Error('boom 4');
    },
    onFailed: async (_ctx, change) => { dead.push(change.data.id); },
  });
  try {
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 4, { message: 'all five committed' });
  } finally {
    controller.abort();
  }
  await within(15_000, run, 'runConsumer after stopSignal');
  assert.deepEqual(dead, ['2']);
  const m = run.metrics();
  assert.equal(m.received, 5, 'five messages handed over');
  assert.equal(m.handled, 4, '1, 3, 4 (second attempt) and 5');
  assert.equal(m.failed, 4, 'three attempts of 2, one of 4');
  assert.equal(m.retries, 3, 'two retries of 2 (the third failure gives up), one of 4');
  assert.equal(m.deadLettered, 1);
  assert.equal(m.invalid, 0);
  assert.equal(m.skipped, 0);
  assert.equal(m.batches, 1, 'the five rows were there before the first poll: one batch');
  assert.equal(m.handlerMs.samples, 8, 'one duration per handler attempt');
  assert.ok(m.handlerMs.p50 >= 0 && m.handlerMs.p50 <= m.handlerMs.p95 && m.handlerMs.p95 <= m.handlerMs.p99 && m.handlerMs.p99 <= m.handlerMs.max);
  assert.ok(m.consume.count >= 1 && m.consume.ms.samples === Math.min(m.consume.count, 1024));
  assert.equal(m.consume.errors, 0);
  assert.ok(m.ack.count >= 1, 'at least the ack of the batch');
  assert.equal(m.ack.errors, 0);
  assert.ok(m.ack.ms.max > 0, 'an ack round trip takes time');
});

test('runAgent returns the same handle', async () => {
  const t = await topicWithRows(2);
  const group = uniqueName('g');
  const controller = new AbortController();
  const run = runAgent({
    ...fastRunOptions(), client: clientFor(server, worker), name: 'agent', topic: t.topic, groupId: group, stopSignal: controller.signal, logger: false,
    onRow: async () => {},
  });
  assert.equal(typeof run.health, 'function');
  try {
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 1, { message: 'both committed' });
  } finally {
    controller.abort();
  }
  await within(15_000, run, 'runAgent after stopSignal');
  assert.equal(run.metrics().handled, 2);
  assert.equal(run.health().state, 'stopped');
});

test('the stall watchdog warns once when a handler blocks past stallTimeoutMs, says "recovered" when it moves again, and stays quiet while idle', async () => {
  const t = await topicWithRows(2);
  const group = uniqueName('g');
  const logger = recordingLogger();
  const controller = new AbortController();
  let release;
  const blocked = new Promise((resolve) => { release = resolve; });
  const run = runConsumer({
    ...fastRunOptions(), client: clientFor(server, worker), name: 'sleepy', topic: t.topic, groupId: group, stopSignal: controller.signal,
    stallTimeoutMs: 300, logger,
    onChange: async (_ctx, change) => { if (change.offset === 0) await blocked; },
  });
  const stallLines = () => logger.lines.filter((l) => /has made no progress/.test(l.message));
  try {
    await waitFor(() => stallLines().length > 0, { message: 'the stall warning' });
    const [line] = stallLines();
    assert.equal(line.level, 'warn');
    assert.match(line.message, new RegExp(`^${t.topic.replace('.', '\\.')}\\[0\\] has made no progress for \\d+ s with work pending: the handler has been on offset 0 \\(attempt 1\\); 2 fetched messages unfinished \\(stallTimeoutMs 300\\)$`));
    const h = run.health().partitions[0];
    assert.equal(h.stalled, true);
    assert.equal(h.currentOffset, 0);
    assert.equal(h.attempt, 1);
    assert.equal(h.inFlight, 2);
    assert.ok(h.secondsSinceProgress >= 0.3, `no progress for ${h.secondsSinceProgress} s`);
    await sleep(1000);
    assert.equal(stallLines().length, 1, 'once per stall, not once per check');
    release();
    await waitFor(() => logger.lines.some((l) => /\[0\] recovered/.test(l.message)), { message: 'the recovered line' });
    assert.equal(logger.lines.find((l) => /recovered/.test(l.message)).level, 'info');
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 1, { message: 'both committed' });
    assert.equal(run.health().partitions[0].stalled, false);
    await sleep(1500); // idle, nothing to do: no stall
    assert.equal(stallLines().length, 1, 'an idle partition is not stalled');
  } finally {
    release();
    controller.abort();
  }
  await within(15_000, run, 'runConsumer after stopSignal');
});

test('stallTimeoutMs and telemetry are checked before any request', async () => {
  const base = { ...fastRunOptions(), client: clientFor(server, worker), name: 'bad', topic: 'x.y', groupId: 'g', onChange: async () => {} };
  await assert.rejects(runConsumer({ ...base, stallTimeoutMs: 0 }), { code: 'INVALID_OPTION', message: /stallTimeoutMs/ });
  await assert.rejects(runConsumer({ ...base, telemetry: { tracer: {} } }), { code: 'INVALID_OPTION', message: /telemetry\.tracer/ });
  await assert.rejects(runConsumer({ ...base, telemetry: { meter: { createHistogram() {} } } }), { code: 'INVALID_OPTION', message: /telemetry\.meter/ });
  const failed = runConsumer({ ...base, telemetry: 'yes' });
  await assert.rejects(failed, { code: 'INVALID_OPTION' });
  assert.equal(failed.health().state, 'failed');
  assert.match(failed.health().error, /telemetry must be an object/);
});

class TestReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/** A tracer and meter from the OpenTelemetry SDK that keep what they record, for assertions. */
function recordingTelemetry() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    telemetry: { tracer: tracerProvider.getTracer('test'), meter: meterProvider.getMeter('test') },
    spans: () => exporter.getFinishedSpans(),
    collect: () => reader.collect(),
    shutdown: () => Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]),
  };
}

test('OpenTelemetry: a process span per message with the messaging attributes, receive and settle spans, and the metrics as instruments', async () => {
  const t = await topicWithRows(3);
  const group = uniqueName('g');
  const otel = recordingTelemetry();
  const controller = new AbortController();
  const attempts = new Map();
  const run = runConsumer({
    ...fastRunOptions(), client: clientFor(server, worker), name: 'traced', topic: t.topic, groupId: group, stopSignal: controller.signal, logger: false,
    retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5 },
    telemetry: otel.telemetry,
    onChange: async (_ctx, change) => {
      const n = (attempts.get(change.offset) ?? 0) + 1;
      attempts.set(change.offset, n);
      if (change.offset === 1 && n === 1) throw new Error('flaky');
      if (change.offset === 2) throw new Error('poison');
    },
    onFailed: async () => {},
  });
  try {
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 2, { message: 'all three committed' });
  } finally {
    controller.abort();
  }
  await within(15_000, run, 'runConsumer after stopSignal');

  const spans = otel.spans();
  const processSpans = spans.filter((s) => s.name === `process ${t.topic}`).sort((a, b) => a.attributes['messaging.kalamdb.offset'] - b.attributes['messaging.kalamdb.offset']);
  assert.equal(processSpans.length, 3, `one process span per message (${spans.map((s) => s.name).join(', ')})`);
  for (const [i, span] of processSpans.entries()) {
    assert.equal(span.kind, SpanKind.CONSUMER);
    assert.equal(span.attributes['messaging.system'], 'kalamdb');
    assert.equal(span.attributes['messaging.operation.name'], 'process');
    assert.equal(span.attributes['messaging.operation.type'], 'process');
    assert.equal(span.attributes['messaging.destination.name'], t.topic);
    assert.equal(span.attributes['messaging.consumer.group.name'], group);
    assert.equal(span.attributes['messaging.destination.partition.id'], '0');
    assert.equal(span.attributes['messaging.kalamdb.offset'], i);
  }
  const [ok, flaky, poison] = processSpans;
  assert.equal(ok.attributes['messaging.kalamdb.attempt'], 1);
  assert.equal(ok.attributes['messaging.kalamdb.outcome'], 'handled');
  assert.equal(ok.status.code, SpanStatusCode.UNSET);
  assert.equal(flaky.attributes['messaging.kalamdb.attempt'], 2);
  assert.equal(flaky.attributes['messaging.kalamdb.outcome'], 'handled');
  assert.equal(flaky.status.code, SpanStatusCode.UNSET, 'succeeded in the end');
  assert.deepEqual(flaky.events.map((e) => [e.name, e.attributes['exception.message']]), [['exception', 'flaky']]);
  assert.equal(poison.attributes['messaging.kalamdb.attempt'], 2);
  assert.equal(poison.attributes['messaging.kalamdb.outcome'], 'dead_lettered');
  assert.equal(poison.status.code, SpanStatusCode.ERROR);
  assert.equal(poison.status.message, 'poison');
  assert.equal(poison.attributes['error.type'], 'Error');
  assert.equal(poison.events.length, 2, 'an exception event per failed attempt');

  const receive = spans.filter((s) => s.name === `receive ${t.topic}`);
  assert.ok(receive.length >= 1, 'a receive span for the poll that returned the messages');
  assert.equal(receive[0].kind, SpanKind.CLIENT);
  assert.equal(receive[0].attributes['messaging.operation.type'], 'receive');
  assert.equal(receive[0].attributes['messaging.batch.message_count'], 3);
  assert.ok(receive.every((s) => s.attributes['messaging.batch.message_count'] > 0), 'no spans for empty polls');
  const settle = spans.filter((s) => s.name === `settle ${t.topic}`);
  assert.ok(settle.length >= 1);
  assert.equal(settle.at(-1).attributes['messaging.kalamdb.offset'], 2, 'the ack of the batch names its last offset');
  assert.equal(settle.at(-1).attributes['messaging.operation.type'], 'settle');

  const { resourceMetrics } = await otel.collect();
  const metrics = new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
  const value = (name) => metrics.get(name)?.dataPoints.reduce((sum, p) => sum + p.value, 0);
  assert.equal(value('messaging.client.consumed.messages'), 3);
  assert.equal(value('messaging.kalamdb.handled'), 2);
  assert.equal(value('messaging.kalamdb.failed_attempts'), 3);
  assert.equal(value('messaging.kalamdb.retries'), 2);
  assert.equal(value('messaging.kalamdb.dead_lettered'), 1);
  assert.equal(value('messaging.kalamdb.batches'), 1);
  const handledPoint = metrics.get('messaging.kalamdb.handled').dataPoints[0];
  assert.equal(handledPoint.attributes['messaging.destination.partition.id'], '0');
  assert.equal(handledPoint.attributes['messaging.consumer.group.name'], group);
  const processDuration = metrics.get('messaging.process.duration');
  assert.equal(processDuration.descriptor.unit, 's');
  assert.equal(processDuration.dataPoints.reduce((n, p) => n + p.value.count, 0), 5, 'one duration per attempt: 1 + 2 + 2');
  const operations = metrics.get('messaging.client.operation.duration').dataPoints.map((p) => p.attributes['messaging.operation.name']);
  assert.ok(operations.includes('receive') && operations.includes('settle'), `request durations by operation: ${operations}`);
  await otel.shutdown();
});

test('OpenTelemetry: a poll cut short by stop is neither an error span nor a failed request', async () => {
  const t = await setupTopic(server);
  // The server answers a poll at once (it does not long-poll), so a stop rarely lands inside
  // one. This fetch holds the first poll until the worker aborts it, then lets the real fetch
  // fail on the aborted signal, so the stop lands inside a poll every time.
  let pollSent;
  const polling = new Promise((resolve) => { pollSent = resolve; });
  const holdFirstPoll = async (input, init) => {
    if (String(input).endsWith('/topics/consume') && pollSent) {
      pollSent();
      pollSent = undefined;
      await new Promise((resolve) => init.signal.addEventListener('abort', resolve, { once: true }));
    }
    return fetch(input, init);
  };
  const client = clientFor(server, worker, { fetch: holdFirstPoll });
  const otel = recordingTelemetry();
  const controller = new AbortController();
  const errors = [];
  const run = runConsumer({
    ...fastRunOptions(), client, name: 'cut', topic: t.topic, groupId: uniqueName('g'), stopSignal: controller.signal, logger: false,
    onError: (info) => errors.push(info),
    telemetry: otel.telemetry,
    onChange: async () => {},
  });
  await within(5_000, polling, 'the first poll');
  controller.abort();
  await within(5_000, run, 'runConsumer after stopSignal');

  const receive = otel.spans().filter((s) => s.name === `receive ${t.topic}`);
  assert.deepEqual(receive.map((s) => s.status), [], 'no receive span for the poll the stop ended');
  const { resourceMetrics } = await otel.collect();
  const durations = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === 'messaging.client.operation.duration');
  const failed = durations.flatMap((m) => m.dataPoints).filter((p) => p.attributes['error.type'] !== undefined);
  assert.deepEqual(failed.map((p) => p.attributes), [], 'no request duration recorded as failed');
  assert.equal(run.metrics().consume.errors, 0, 'the cut poll is no failed consume');
  assert.deepEqual(errors, [], 'onError never heard of it');
  await otel.shutdown();
});
