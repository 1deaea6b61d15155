import { invalidOption } from './errors.js';

// LLM helpers on the handler context (docs/PROTOCOL.md §7.4): the app brings an adapter, the runtime
// injects the worker's system prompt, the message's runKey and the row into every call, so
// prompts are reproducible per message and an adapter can cache or trace by runKey.

export interface LlmChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** What a handler passes to `ctx.llm.complete` / `ctx.llm.stream`: a prompt or a structured input. */
export interface LlmInput {
  prompt?: string;
  messages?: LlmChatMessage[];
  /** Overrides the message's runKey. */
  runKey?: string;
  /** Overrides the row (defaults to change.data). */
  row?: unknown;
}

/** What the adapter receives: the input plus the injected systemPrompt, runKey and row. */
export interface LlmRequest extends LlmInput {
  systemPrompt?: string;
  runKey: string;
  row: unknown;
}

export interface LlmAdapter {
  complete(request: LlmRequest): Promise<string> | string;
  stream?(request: LlmRequest): AsyncIterable<string>;
}

export interface LlmHelpers {
  complete(input: string | LlmInput): Promise<string>;
  /** Throws INVALID_OPTION when the adapter has no `stream`. */
  stream(input: string | LlmInput): AsyncIterable<string>;
}

export function checkAdapter(adapter: unknown): LlmAdapter | undefined {
  if (adapter === undefined || adapter === null) return undefined;
  if (typeof adapter !== 'object' || typeof (adapter as LlmAdapter).complete !== 'function') {
    throw invalidOption('llm must be an adapter with complete(request) (and optionally stream(request))');
  }
  return adapter as LlmAdapter;
}

export function llmHelpers(adapter: LlmAdapter, systemPrompt: string | undefined, runKey: string, row: unknown): LlmHelpers {
  const request = (input: string | LlmInput): LlmRequest => {
    const base: LlmInput = typeof input === 'string' ? { prompt: input } : { ...input };
    const out: LlmRequest = { ...base, runKey: base.runKey ?? runKey, row: base.row ?? row };
    if (systemPrompt !== undefined) out.systemPrompt = systemPrompt;
    return out;
  };
  return {
    complete: async (input) => adapter.complete(request(input)),
    stream: (input) => {
      if (typeof adapter.stream !== 'function') throw invalidOption('the llm adapter has no stream()');
      return adapter.stream(request(input));
    },
  };
}
