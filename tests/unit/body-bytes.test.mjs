// The consume body reaches the decoder as bytes (crates/kalam-consumer-wasm/src/client.rs,
// decode.rs): nothing checks the whole body to be UTF-8, the decoder checks the strings it
// reads (crates/kalam-consumer-core/src/columns.rs has the rules, tests/utf8.rs there the
// cases). This holds the wasm side: the bytes `fetch` returns, and the TextEncoder bytes of a
// string given to decodeConsumeResponse. A stub fetch, because no server sends invalid UTF-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KalamConsumerClient, decodeConsumeResponse } from '@kalamdb/consumer/wasm';

const REQUEST = { topic_id: 'app.events', group_id: 'g', start: 'Earliest', limit: 10, partition_id: 0 };
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64');

/** A body of parts: strings as UTF-8, arrays as raw bytes. */
const bytesOf = (...parts) => Buffer.concat(parts.map((part) => Buffer.from(part)));

/** A client whose fetch answers every request with `body` (a Buffer) and status 200. */
function clientAnswering(body) {
  const fetch = async () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  return new KalamConsumerClient('http://stub.invalid', { fetch });
}

test('consume: invalid UTF-8 in a key is INVALID_RESPONSE, in the words of the whole-body check, with where', async () => {
  const head = '{"messages":[{"key":"k';
  const body = bytesOf(head, [0xc3, 0x28], `","op":"Insert","payload":"${b64({ a: 1 })}"}],"next_offset":1}`);
  const at = Buffer.byteLength(head);
  const client = clientAnswering(body);
  await assert.rejects(client.consume('Bearer x', REQUEST), (error) => {
    assert.equal(error.name, 'KalamConsumerError');
    assert.equal(error.code, 'INVALID_RESPONSE');
    assert.equal(error.status, 200);
    assert.equal(error.message, `consume returned a body that is not UTF-8 (in a string at byte ${at})`);
    assert.equal(error.body, body.toString('utf8'), 'the body, with U+FFFD for what is not UTF-8');
    return true;
  });
  client.free();
});

test('consume: invalid UTF-8 in an unknown field is skipped; in a payload it is that message\'s decode_error', async () => {
  const body = bytesOf(
    `{"messages":[{"topic_id":"app.events","offset":1,"key":"1","user":"z\u00f6e","op":"Insert","payload":"${b64({ a: 1 })}","trace":"`,
    [0xfe],
    '"},{"topic_id":"app.events","offset":2,"key":"2","op":"Insert","payload":"e30',
    [0xff],
    `"},{"topic_id":"app.events","offset":3,"key":"3","op":"Insert","payload":"${b64({ a: 3 })}"}],"next_offset":4,"has_more":false}`,
  );
  const client = clientAnswering(body);
  const batch = await client.consume(undefined, REQUEST);
  client.free();
  assert.equal(batch.messages.length, 3);
  assert.deepEqual(batch.messages[0].payload, { a: 1 });
  assert.equal(batch.messages[0].user, 'z\u00f6e');
  assert.equal(batch.messages[1].payload, undefined);
  assert.match(batch.messages[1].decode_error, /^payload is not valid base64: /);
  assert.equal(batch.messages[1].raw_payload, 'e30\ufffd');
  assert.deepEqual(batch.messages[2].payload, { a: 3 });
  assert.equal(batch.next_offset, 4);
});

test('ack: a body that is not UTF-8 keeps its error words', async () => {
  const client = clientAnswering(bytesOf('{', [0xff], '}'));
  await assert.rejects(client.ack(undefined, { topic_id: 't', group_id: 'g', partition_id: 0, upto_offset: 1 }), (error) => {
    assert.equal(error.code, 'INVALID_RESPONSE');
    assert.equal(error.message, 'ack returned a body that is not UTF-8');
    return true;
  });
  client.free();
});

test('multi-byte UTF-8 in topics, keys, users and ops round-trips exactly, through fetch bytes and through a string', async () => {
  const texts = ['caf\u00e9', '\u65e5\u672c\u8a9e', '\u{1F600}x\u{1F680}', 'e\u0301', '\u{10ffff}', 'plain'];
  const messages = texts.flatMap((text, i) => [0, 1].map((j) => ({
    topic_id: `t.${text}`, offset: 2 * i + j, key: text, user: text, op: `op ${text}`, payload: b64({ text }),
  })));
  const text = JSON.stringify({ messages, next_offset: messages.length, has_more: false });
  assert.ok(text.includes('\u{1F600}'), 'JSON.stringify keeps non-ASCII as is');
  const client = clientAnswering(Buffer.from(text));
  const fromFetch = await client.consume(undefined, REQUEST);
  client.free();
  const fromString = decodeConsumeResponse(text, REQUEST);
  for (const batch of [fromFetch, fromString]) {
    assert.equal(batch.messages.length, messages.length);
    batch.messages.forEach((m, i) => {
      const sent = messages[i];
      assert.deepEqual([m.topic, m.key, m.user, m.op, m.payload], [sent.topic_id, sent.key, sent.user, sent.op, { text: texts[i >> 1] }]);
    });
  }
});
