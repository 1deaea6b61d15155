import { invalidOption } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import type { WorkerMonitor } from './stats.js';

// OpenTelemetry, optional (issue 13 item 3). The package never imports @opentelemetry/api: the
// application passes its own tracer and meter, and these types describe only the methods used,
// so an @opentelemetry/api Tracer and Meter fit them. Names follow the semantic conventions for
// messaging systems (spans: "{operation} {topic}"; attributes messaging.*).

type AttributeValue = string | number | boolean;
type Attributes = Record<string, AttributeValue>;

/** The part of an OpenTelemetry `Span` the worker uses. */
export interface TelemetrySpan {
  setAttribute(key: string, value: AttributeValue): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException?(exception: Error | string): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` the worker uses (`trace.getTracer('my-worker')`). */
export interface TelemetryTracer {
  startSpan(name: string, options?: { kind?: number; attributes?: Attributes; startTime?: number }): TelemetrySpan;
}

/** The part of an OpenTelemetry `Meter` the worker uses (`metrics.getMeter('my-worker')`). */
export interface TelemetryMeter {
  createHistogram(name: string, options?: { description?: string; unit?: string }): { record(value: number, attributes?: Attributes): void };
  createObservableCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): { addCallback(callback: (result: { observe(value: number, attributes?: Attributes): void }) => void): void };
}

export interface TelemetryOptions {
  /** A span per handled message ("process <topic>"), per non-empty poll ("receive") and per ack ("settle"). */
  tracer?: TelemetryTracer;
  /** Histograms of handler and request durations, counters of what `metrics()` reports. */
  meter?: TelemetryMeter;
}

// SpanKind and SpanStatusCode of @opentelemetry/api, by value.
const KIND_CLIENT = 2;
const KIND_CONSUMER = 4;
const STATUS_ERROR = 2;

/** How a message's process span ended. */
export type MessageOutcome = 'handled' | 'dead_lettered' | 'skipped' | 'stopped' | 'failed';

/** The process span of one message; only made when a tracer was given. */
export class MessageTrace {
  constructor(private readonly span: TelemetrySpan) {}

  attemptFailed(error: unknown): void {
    const span = this.span;
    if (typeof span.recordException === 'function') span.recordException(error instanceof Error ? error : describeFailure(error));
  }

  end(outcome: MessageOutcome, attempts: number, error?: unknown): void {
    const span = this.span;
    span.setAttribute('messaging.kalamdb.attempt', attempts);
    span.setAttribute('messaging.kalamdb.outcome', outcome);
    if (error !== undefined) {
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: STATUS_ERROR, message: describeFailure(error) });
    }
    span.end();
  }
}

export function telemetrySettings(option: unknown): Telemetry | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== 'object' || option === null) throw invalidOption('telemetry must be an object { tracer?, meter? }');
  const { tracer, meter } = option as TelemetryOptions;
  if (tracer !== undefined && typeof (tracer as Partial<TelemetryTracer>)?.startSpan !== 'function') {
    throw invalidOption('telemetry.tracer must be an OpenTelemetry Tracer (an object with startSpan), e.g. trace.getTracer(name)');
  }
  if (
    meter !== undefined &&
    (typeof (meter as Partial<TelemetryMeter>)?.createHistogram !== 'function' || typeof (meter as Partial<TelemetryMeter>)?.createObservableCounter !== 'function')
  ) {
    throw invalidOption('telemetry.meter must be an OpenTelemetry Meter (createHistogram, createObservableCounter), e.g. metrics.getMeter(name)');
  }
  if (!tracer && !meter) return undefined;
  return new Telemetry(tracer, meter);
}

type Histogram = ReturnType<TelemetryMeter['createHistogram']>;

export class Telemetry {
  private topic = '';
  private base: Attributes = {};
  private readonly byPartition = new Map<number, Attributes>();
  private processDuration: Histogram | undefined;
  private operationDuration: Histogram | undefined;

  constructor(
    readonly tracer: TelemetryTracer | undefined,
    private readonly meter: TelemetryMeter | undefined,
  ) {}

  /** Called once the topic and group are known; registers the instruments. */
  bind(topic: string, groupId: string): void {
    this.topic = topic;
    this.base = { 'messaging.system': 'kalamdb', 'messaging.destination.name': topic, 'messaging.consumer.group.name': groupId };
    const meter = this.meter;
    if (!meter) return;
    this.processDuration = meter.createHistogram('messaging.process.duration', { description: 'Duration of one handler attempt', unit: 's' });
    this.operationDuration = meter.createHistogram('messaging.client.operation.duration', { description: 'Duration of a consume (receive) or ack (settle) request', unit: 's' });
  }

  /** Counters read from the worker's stats when the meter collects (no cost per message). */
  observe(monitor: WorkerMonitor): void {
    const meter = this.meter;
    if (!meter) return;
    const counter = (name: string, description: string, read: (p: ReturnType<WorkerMonitor['partition']>) => number): void => {
      meter.createObservableCounter(name, { description, unit: '{message}' }).addCallback((result) => {
        monitor.forEachPartition((stats) => result.observe(read(stats), this.attributes(stats.partition)));
      });
    };
    counter('messaging.client.consumed.messages', 'Messages handed to the handler', (p) => p.received);
    counter('messaging.kalamdb.handled', 'Messages whose handler returned', (p) => p.handled);
    counter('messaging.kalamdb.failed_attempts', 'Handler attempts that threw or timed out', (p) => p.failed);
    counter('messaging.kalamdb.dead_lettered', 'Messages the dead-letter hook took', (p) => p.deadLettered);
    counter('messaging.kalamdb.retries', 'Retries after a failed attempt', (p) => p.retries);
    counter('messaging.kalamdb.invalid', 'Messages that could not be handed over', (p) => p.invalid);
    counter('messaging.kalamdb.batches', 'Non-empty batches handed to the handler', (p) => p.batches);
  }

  /** The attributes every instrument and span of a partition carries (one object per partition). */
  attributes(partition: number): Attributes {
    let attrs = this.byPartition.get(partition);
    if (!attrs) {
      attrs = { ...this.base, 'messaging.destination.partition.id': String(partition) };
      this.byPartition.set(partition, attrs);
    }
    return attrs;
  }

  /** Starts the process span of a message, or nothing without a tracer. */
  message(partition: number, offset: number): MessageTrace | undefined {
    const tracer = this.tracer;
    if (!tracer) return undefined;
    const span = tracer.startSpan(`process ${this.topic}`, {
      kind: KIND_CONSUMER,
      attributes: { ...this.attributes(partition), 'messaging.operation.name': 'process', 'messaging.operation.type': 'process', 'messaging.kalamdb.offset': offset },
    });
    return new MessageTrace(span);
  }

  handlerTime(partition: number, ms: number): void {
    this.processDuration?.record(ms / 1000, this.attributes(partition));
  }

  /**
   * A finished consume or ack. Spans for polls that returned nothing are not made (an idle
   * worker polls several times a second); their duration still goes to the histogram. A poll
   * cut short by stop never gets here: the partition loop's `timed` keeps it out.
   */
  request(operation: 'receive' | 'settle', partition: number, startedAt: number, ms: number, detail: { count?: number; offset?: number; error?: unknown }): void {
    const error = detail.error;
    if (this.operationDuration) {
      const attrs: Attributes = { ...this.attributes(partition), 'messaging.operation.name': operation };
      if (error !== undefined) attrs['error.type'] = errorType(error);
      this.operationDuration.record(ms / 1000, attrs);
    }
    const tracer = this.tracer;
    if (!tracer || (operation === 'receive' && error === undefined && !detail.count)) return;
    const attributes: Attributes = { ...this.attributes(partition), 'messaging.operation.name': operation, 'messaging.operation.type': operation };
    if (detail.count !== undefined) attributes['messaging.batch.message_count'] = detail.count;
    if (detail.offset !== undefined) attributes['messaging.kalamdb.offset'] = detail.offset;
    const span = tracer.startSpan(`${operation} ${this.topic}`, { kind: KIND_CLIENT, attributes, startTime: startedAt });
    if (error !== undefined) {
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: STATUS_ERROR, message: describeFailure(error) });
    }
    span.end();
  }
}

/** `error.type`: the error's code when it has one (KalamConsumerError), else its class name. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof Error) return error.name;
  return '_OTHER';
}
