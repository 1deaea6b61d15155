// The wasm client reads a response body from its stream (crates/kalam-consumer-wasm/js/body.js),
// not through `arrayBuffer()`: the chunks are joined in order, whatever their boundaries; a
// `fetch` whose Response has no readable stream still works; a stream that fails, or gives a
// chunk that is not bytes, rejects with a typed error that says so. Stub fetches, because a
// real server's chunk boundaries cannot be chosen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KalamConsumerClient } from '@kalamdb/consumer/wasm';

const REQUEST = { topic_id: 'app.events', group_id: 'g', start: 'Earliest', limit: 10, partition_id: 0 };
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64');

/** A consume body of three messages, one with a user name outside ASCII. */
const BODY = Buffer.from(
  '{"messages":[' +
    [1, 2, 3]
      .map((offset) => `{"topic_id":"app.events","offset":${offset},"key":"${offset}","user":"z\u00f6e","op":"Insert","payload":"${b64({ n: offset, note: 'caf\u00e9' })}"}`)
      .join(',') +
    '],"next_offset":4,"has_more":false}',
);

/** A stream that gives `chunks` one by one, then ends (or fails with `failure`). */
function streamOf(chunks, failure) {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else if (failure) controller.error(failure);
      else controller.close();
    },
  });
}

function clientWith(respond) {
  return new KalamConsumerClient('http://stub.invalid', { fetch: async () => respond() });
}

function assertDecoded(batch) {
  assert.deepEqual(batch.messages.map((m) => m.offset), [1, 2, 3]);
  assert.deepEqual(batch.messages.map((m) => m.payload), [1, 2, 3].map((n) => ({ n, note: 'caf\u00e9' })));
  assert.ok(batch.messages.every((m) => m.user === 'z\u00f6e'));
  assert.equal(batch.next_offset, 4);
}

test('a body in many chunks, split inside a UTF-8 character and inside a payload, is joined in order', async () => {
  const zoe = BODY.indexOf(Buffer.from('\u00f6'));
  const payload = BODY.indexOf(Buffer.from('"payload":"')) + 20;
  const cuts = [0, 7, zoe + 1, payload, payload + 1, BODY.length - 3, BODY.length];
  const chunks = cuts.slice(1).map((end, i) => new Uint8Array(BODY.subarray(cuts[i], end)));
  assert.ok(chunks.every((c) => c.length > 0) && chunks.length === 6);
  const client = clientWith(() => new Response(streamOf(chunks), { status: 200 }));
  assertDecoded(await client.consume(undefined, REQUEST));
  client.free();
});

test('a body in one chunk, and an empty body', async () => {
  const client = clientWith(() => new Response(BODY, { status: 200 }));
  assertDecoded(await client.consume(undefined, REQUEST));
  client.free();
  const empty = clientWith(() => new Response(null, { status: 200 }));
  await assert.rejects(empty.consume(undefined, REQUEST), (error) => {
    assert.equal(error.code, 'INVALID_RESPONSE');
    assert.match(error.message, /^consume returned an invalid body: /);
    return true;
  });
  empty.free();
});

test('a fetch whose Response has no readable stream is read with arrayBuffer()', async () => {
  let arrayBufferCalls = 0;
  const client = clientWith(() => ({
    status: 200,
    ok: true,
    body: undefined,
    arrayBuffer: async () => {
      arrayBufferCalls++;
      return BODY.buffer.slice(BODY.byteOffset, BODY.byteOffset + BODY.length);
    },
  }));
  assertDecoded(await client.consume(undefined, REQUEST));
  assert.equal(arrayBufferCalls, 1);
  client.free();
});

test('a stream that fails part way rejects with NETWORK_ERROR and the stream\'s reason', async () => {
  const chunks = [new Uint8Array(BODY.subarray(0, 40))];
  const client = clientWith(() => new Response(streamOf(chunks, new Error('socket hang up')), { status: 200 }));
  await assert.rejects(client.consume(undefined, REQUEST), (error) => {
    assert.equal(error.name, 'KalamConsumerError');
    assert.equal(error.code, 'NETWORK_ERROR');
    assert.match(error.message, /^consume failed: socket hang up/);
    return true;
  });
  client.free();
});

test('a chunk that is not bytes is refused, never copied as something else', async () => {
  const client = clientWith(() => ({ status: 200, ok: true, body: streamOf([BODY.toString('utf8')]) }));
  await assert.rejects(client.consume(undefined, REQUEST), (error) => {
    assert.equal(error.code, 'NETWORK_ERROR');
    assert.match(error.message, /^consume failed: a body chunk is not bytes/);
    return true;
  });
  client.free();
});

test('ack reads its body the same way', async () => {
  const ack = Buffer.from('{"success":true,"acknowledged_offset":7}');
  const chunks = [new Uint8Array(ack.subarray(0, 5)), new Uint8Array(ack.subarray(5))];
  const client = clientWith(() => new Response(streamOf(chunks), { status: 200 }));
  const result = await client.ack(undefined, { topic_id: 'app.events', group_id: 'g', partition_id: 0, upto_offset: 7 });
  assert.deepEqual({ ...result }, { success: true, acknowledged_offset: 7 });
  client.free();
});
