// A fetch response's body as bytes, read from its stream: the caller (`Inner::post` in
// src/client.rs) copies them into wasm memory.
//
// Why not `response.arrayBuffer()`: Node's fetch (undici) joins the chunks and then copies the
// result again into the ArrayBuffer it returns, through more machinery than the copies
// themselves. Measured in Node 20 on a 540 kB consume body (1,000 messages of 300 B), reading
// the chunks and copying them once against arrayBuffer() plus that copy: an in-memory Response
// 53 against 180 us, a whole request over loopback HTTP (9 chunks) 968 against 1,108 us. Here a
// body of one chunk (an in-memory Response) is handed over as it is; one of several is joined
// first, one copy more than that measurement made.
//
// A `fetch` passed by the caller may return a Response without a `body` stream: its body is
// read with arrayBuffer() then.

/**
 * @param {Response} response
 * @returns {Promise<Uint8Array>}
 */
export async function bodyBytes(response) {
  const body = response.body;
  if (!body?.getReader) return new Uint8Array(await response.arrayBuffer());
  const reader = body.getReader();
  const chunks = [];
  let length = 0;
  for (let read; !(read = await reader.read()).done; ) {
    // The Fetch standard's chunks are Uint8Array; set() below would copy anything else wrongly.
    if (!(read.value instanceof Uint8Array)) throw new TypeError('a body chunk is not bytes');
    chunks.push(read.value);
    length += read.value.length;
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(length);
  length = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, length);
    length += chunk.length;
  }
  return bytes;
}
