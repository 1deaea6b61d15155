import { invalidOption } from './errors.js';
import type { LlmAdapter, LlmChatMessage, LlmRequest } from './llm.js';

/**
 * What the adapter needs of a LangChain chat model (duck-typed: the package does not depend on
 * LangChain). Any object with `invoke(messages)` fits, and `stream(messages)` for streaming.
 */
export interface LangChainModelLike {
  invoke(messages: LlmChatMessage[]): Promise<unknown> | unknown;
  stream?(messages: LlmChatMessage[]): Promise<AsyncIterable<unknown>> | AsyncIterable<unknown>;
}

/**
 * 0.4.x exported this; importers of it must keep loading (docs/PROTOCOL.md §7.4). The message
 * list: the system prompt (trimmed, when not empty), then the non-empty `messages` (content
 * trimmed) or one `user` message with the prompt. `complete` trims the text of the result;
 * `stream` yields only non-empty chunks.
 */
export function createLangChainAdapter(model: LangChainModelLike): LlmAdapter {
  if (!model || typeof model !== 'object' || typeof model.invoke !== 'function') {
    throw invalidOption('createLangChainAdapter needs a chat model with invoke(messages) (and optionally stream(messages))');
  }
  return {
    async complete(request) {
      return textOf(await model.invoke(messagesOf(request))).trim();
    },
    async *stream(request) {
      if (typeof model.stream !== 'function') throw invalidOption('this LangChain model has no stream()');
      for await (const chunk of await model.stream(messagesOf(request))) {
        const text = textOf(chunk);
        if (text !== '') yield text;
      }
    },
  };
}

function messagesOf(request: LlmRequest): LlmChatMessage[] {
  const list: LlmChatMessage[] = [];
  const system = request.systemPrompt?.trim();
  if (system) list.push({ role: 'system', content: system });
  const given = (request.messages ?? []).filter((m) => typeof m?.content === 'string' && m.content.trim() !== '');
  if (given.length > 0) for (const m of given) list.push({ role: m.role, content: m.content.trim() });
  else list.push({ role: 'user', content: request.prompt ?? '' });
  return list;
}

/** Text of a model result: a string, an array of parts, or an object with text / content / message. */
function textOf(value: unknown, depth = 0): string {
  if (typeof value === 'string') return value;
  if (depth > 4 || value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((part) => textOf(part, depth + 1)).join('');
  if (typeof value !== 'object') return '';
  const v = value as { text?: unknown; content?: unknown; message?: unknown };
  if (typeof v.text === 'string') return v.text;
  if (typeof v.content === 'string') return v.content;
  if (Array.isArray(v.content)) return v.content.map((part) => (typeof part === 'string' ? part : textOf((part as { text?: unknown })?.text, depth + 1))).join('');
  if (v.message !== undefined) return textOf(v.message, depth + 1);
  return '';
}
