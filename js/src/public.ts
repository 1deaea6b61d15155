// Everything both entry points export besides the three wasm-bound functions.
export { Auth } from './auth.js';
export type { AuthCredentials, AuthProvider, BasicAuthCredentials, JwtAuthCredentials, LoginResponse } from './auth.js';
export { KalamConsumerError, isKalamConsumerError } from './errors.js';
export type { KalamConsumerErrorCode, KalamConsumerErrorKind } from './errors.js';
export { TopicOp } from './messages.js';
export type { AckResult, ConsumeBatchResult, ConsumerMessage, StartPosition } from './messages.js';
export type { AckOptions, ConsumeBatchOptions, ConsumerClient, ConsumerClientOptions } from './client.js';
export type { ConsumerContext as LowLevelConsumerContext, ConsumerHandle, ConsumerHandler, ConsumerOptions, LowLevelErrorInfo } from './consumer.js';
export type { QueryResponse, QueryResult, SqlClientLike, SqlParams, SqlSchemaField } from './sql.js';
export type { ConnectionRetryOptions } from './connection.js';
export type { IdleBackoffOptions } from './idle.js';
export type { RetryOptions, ErrorPhase } from './engine.js';
export type {
  DurationSummary,
  PartitionHealth,
  RoundTrips,
  TelemetryMeter,
  TelemetryOptions,
  TelemetrySpan,
  TelemetryTracer,
  WorkerHealth,
  WorkerMetrics,
  WorkerRun,
  WorkerState,
} from './engine.js';
export type { Change, ConsumerContext, ErrorInfo, MessageMetadata, RetryInfo, RunConsumerOptions, RunConsumerOptionsWithoutUser } from './run-consumer.js';
export type { Logger, LoggerOption } from './logger.js';
export { describeFailure } from './failure-reason.js';
export { createLangChainAdapter } from './langchain-adapter.js';
export type { LangChainModelLike } from './langchain-adapter.js';
export type { AgentContext, RunAgentOptions } from './run-agent.js';
export type { LlmAdapter, LlmChatMessage, LlmHelpers, LlmInput, LlmRequest } from './llm.js';
export { VERSION } from './version.js';
export { topicLag } from './lag.js';
export type { PartitionLag, TopicLag, TopicLagOptions } from './lag.js';
