//! `KalamConsumerClient`: `consume` and `ack` over `fetch` (§3.1, §3.2, §3.7).

use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use kalam_consumer_core::{decode_ack_response, parse_error_body, DecodeError, RequestContext};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::error::{Code, ConsumerError};
use crate::interop::{call_fetch, get, get_string, object_of, JsClientOptions, JsRequestOptions};
use crate::types::{AckRequest, ConsumeRequest};

const CONSUME_PATH: &str = "/v1/api/topics/consume";
const ACK_PATH: &str = "/v1/api/topics/ack";

struct Inner {
    base_url: String,
    fetch: Option<Function>,
}

/// A KalamDB topic client: `consume` and `ack` only, through the global `fetch` (or
/// `options.fetch`). Every failure rejects with a `KalamConsumerError` (see
/// `KalamConsumerWasmError`). Call `free()` when done; a finalizer frees it otherwise.
///
/// @example
/// ```ts
/// const client = new KalamConsumerClient('http://127.0.0.1:8080');
/// const batch = await client.consume('Bearer ' + jwt,
///   { topic_id: 'app.events', group_id: 'g', start: 'Earliest', limit: 100, partition_id: 0 });
/// ```
#[wasm_bindgen(js_name = "KalamConsumerClient")]
pub struct KalamConsumerClient {
    inner: Rc<Inner>,
}

fn normalize_base_url(url: &str) -> Result<String, ConsumerError> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| {
            ConsumerError::local(
                Code::InvalidUrl,
                format!("base URL must start with http:// or https://, got '{url}'"),
            )
        })?;
    if rest.trim_end_matches('/').is_empty() {
        return Err(ConsumerError::local(
            Code::InvalidUrl,
            format!("base URL has no host: '{url}'"),
        ));
    }
    Ok(trimmed.trim_end_matches('/').to_owned())
}

fn require_non_empty(value: &str, field: &str) -> Result<(), ConsumerError> {
    if value.is_empty() {
        // §3.1: the real server panics on an empty id.
        return Err(ConsumerError::local(
            Code::InvalidOption,
            format!("{field} must not be empty"),
        ));
    }
    Ok(())
}

fn error_name(error: &JsValue) -> Option<String> {
    get_string(error, "name")
}

/// Maps a rejected `fetch` or body read to an error: abort, timeout or network.
fn network_error(error: JsValue, what: &str) -> ConsumerError {
    let name = error_name(&error);
    let mut message =
        get_string(&error, "message").unwrap_or_else(|| String::from("request failed"));
    let cause = get(&error, "cause");
    if let Some(detail) = get_string(&cause, "message").or_else(|| get_string(&cause, "code")) {
        message.push_str(": ");
        message.push_str(&detail);
    }
    let code = match name.as_deref() {
        Some("AbortError") => Code::Aborted,
        Some("TimeoutError") => Code::Timeout,
        _ => Code::NetworkError,
    };
    ConsumerError::local(code, format!("{what} failed: {message}")).with_cause(error)
}

/// The words for a 2xx body that is not UTF-8 where it is read; `detail` says where, when the
/// consume decoder found it.
fn not_utf8(status: u16, what: &str, detail: Option<&str>, body: &[u8]) -> ConsumerError {
    let mut message = format!("{what} returned a body that is not UTF-8");
    if let Some(detail) = detail {
        message.push_str(" (");
        message.push_str(detail);
        message.push(')');
    }
    ConsumerError::invalid_response(status, message, &String::from_utf8_lossy(body))
}

#[wasm_bindgen(module = "/js/body.js")]
extern "C" {
    /// The response body's bytes, read from its stream (that file says why).
    #[wasm_bindgen(js_name = "bodyBytes")]
    fn body_bytes(response: &web_sys::Response) -> Promise;
}

impl Inner {
    /// POSTs `body` as JSON and returns `(status, response bytes)` of a 2xx response; any
    /// other outcome is an error. The bytes are not checked to be UTF-8 here: the consume
    /// decoder checks the strings it reads (`kalam_consumer_core::scan` says why), and `ack`
    /// checks its small body whole.
    async fn post(
        &self,
        path: &str,
        auth_header: Option<String>,
        body: &str,
        options: Option<JsRequestOptions>,
        what: &str,
    ) -> Result<(u16, Vec<u8>), ConsumerError> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let headers = match auth_header.as_deref() {
            Some(auth) if !auth.is_empty() => crate::interop::headers_object(&[
                ("Content-Type", "application/json"),
                ("Authorization", auth),
            ]),
            _ => crate::interop::headers_object(&[("Content-Type", "application/json")]),
        };
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(body));
        if let Some(options) = &options {
            let signal = options.signal();
            if !signal.is_undefined() && !signal.is_null() {
                init.set_signal(Some(signal.unchecked_ref::<web_sys::AbortSignal>()));
            }
        }
        let mut url = String::with_capacity(self.base_url.len() + path.len());
        url.push_str(&self.base_url);
        url.push_str(path);

        let promise =
            call_fetch(self.fetch.as_ref(), &url, &init).map_err(|e| network_error(e, what))?;
        let response = JsFuture::from(promise)
            .await
            .map_err(|e| network_error(e, what))?;
        let response: web_sys::Response = response.unchecked_into();
        let status = response.status();
        // Bytes, not text(): the body goes into wasm memory without a UTF-8 -> UTF-16 -> UTF-8
        // round trip; read from the stream (js/body.js says why not arrayBuffer()).
        let bytes = JsFuture::from(body_bytes(&response))
            .await
            .map_err(|e| network_error(e, what))?;
        let bytes = bytes.unchecked_into::<Uint8Array>().to_vec();
        if (200..300).contains(&status) {
            return Ok((status, bytes));
        }
        let text = String::from_utf8_lossy(&bytes);
        let envelope = parse_error_body(&text);
        let detail = envelope
            .message
            .clone()
            .unwrap_or_else(|| String::from("(empty body)"));
        let label = match &envelope.code {
            Some(code) => format!("HTTP {status} {code}"),
            None => format!("HTTP {status}"),
        };
        Err(ConsumerError::http(
            status,
            envelope.code,
            format!("{what} failed ({label}): {detail}"),
            &text,
        ))
    }
}

#[wasm_bindgen(js_class = "KalamConsumerClient")]
impl KalamConsumerClient {
    /// Creates a client for `baseUrl` (`http://` or `https://`; trailing `/` trimmed; throws
    /// `INVALID_URL` otherwise). `options.fetch` replaces the global `fetch` (tests, exotic
    /// runtimes).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = "baseUrl")] base_url: &str,
        options: Option<JsClientOptions>,
    ) -> Result<KalamConsumerClient, JsValue> {
        let base_url = normalize_base_url(base_url)?;
        let fetch = match options {
            None => None,
            Some(options) => {
                let f = options.fetch();
                if f.is_undefined() || f.is_null() {
                    None
                } else if f.is_function() {
                    Some(f.unchecked_into::<Function>())
                } else {
                    return Err(ConsumerError::local(
                        Code::InvalidOption,
                        "options.fetch must be a function",
                    )
                    .into());
                }
            }
        };
        Ok(KalamConsumerClient {
            inner: Rc::new(Inner { base_url, fetch }),
        })
    }

    /// The normalised base URL.
    #[wasm_bindgen(getter, js_name = "baseUrl")]
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// `POST /v1/api/topics/consume` with `request` sent verbatim; resolves to the decoded
    /// batch. `authHeader` is the whole `Authorization` value (`Bearer <jwt>`); omit it for
    /// none. Rejects with `INVALID_OPTION` (bad request, before any fetch), `NETWORK_ERROR`,
    /// `ABORTED`, `TIMEOUT`, an HTTP error (server code or `HTTP_ERROR`), or
    /// `INVALID_RESPONSE` (a 2xx body that is not a consume response).
    #[wasm_bindgen(js_name = "consume", unchecked_return_type = "Promise<ConsumeBatch>")]
    pub fn consume(
        &self,
        #[wasm_bindgen(js_name = "authHeader")] auth_header: Option<String>,
        #[wasm_bindgen(unchecked_param_type = "ConsumeRequest")] request: JsValue,
        options: Option<JsRequestOptions>,
    ) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let request = ConsumeRequest::from_js(&request)?;
            require_non_empty(&request.topic_id, "topic_id")?;
            require_non_empty(&request.group_id, "group_id")?;
            let body = request.to_json();
            let (status, bytes) = inner
                .post(CONSUME_PATH, auth_header, &body, options, "consume")
                .await?;
            let context = RequestContext {
                topic_id: &request.topic_id,
                group_id: &request.group_id,
                partition_id: request.partition_id,
            };
            crate::decode::batch_to_js(&bytes, &context).map_err(|e| {
                match &e {
                    DecodeError::NotUtf8(detail) => {
                        not_utf8(status, "consume", Some(detail), &bytes)
                    }
                    _ => ConsumerError::invalid_response(
                        status,
                        format!("consume returned an invalid body: {e}"),
                        &String::from_utf8_lossy(&bytes),
                    ),
                }
                .into()
            })
        })
    }

    /// `POST /v1/api/topics/ack` (inclusive, cumulative, §3.7); resolves to
    /// `{ success, acknowledged_offset }`. Rejects like `consume`.
    #[wasm_bindgen(js_name = "ack", unchecked_return_type = "Promise<AckResponse>")]
    pub fn ack(
        &self,
        #[wasm_bindgen(js_name = "authHeader")] auth_header: Option<String>,
        #[wasm_bindgen(unchecked_param_type = "AckRequest")] request: JsValue,
        options: Option<JsRequestOptions>,
    ) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let request = AckRequest::from_js(&request)?;
            require_non_empty(&request.topic_id, "topic_id")?;
            require_non_empty(&request.group_id, "group_id")?;
            let body = request.to_json();
            let (status, bytes) = inner
                .post(ACK_PATH, auth_header, &body, options, "ack")
                .await?;
            let text = String::from_utf8(bytes)
                .map_err(|e| not_utf8(status, "ack", None, e.as_bytes()))?;
            let ack = decode_ack_response(&text, request.upto_offset).map_err(|e| {
                ConsumerError::invalid_response(
                    status,
                    format!("ack returned an invalid body: {e}"),
                    &text,
                )
            })?;
            Ok(object_of(&[
                ("success", JsValue::from_bool(ack.success)),
                (
                    "acknowledged_offset",
                    JsValue::from_f64(ack.acknowledged_offset as f64),
                ),
            ]))
        })
    }
}
