// HitlClient: publish interaction requests and await their outcomes, the TypeScript twin of the
// Python SDK's HitlClient (services/hitl/sdk/client.py), over nothing but docs/contract.md.
//
// Each producer service has a durable reply queue, so outcomes outlive the process: a later
// process of the same service picks up what an earlier one asked, by id (`resume(id)`) or as
// they come (`outcomes()`). Each outcome is handed to your code once, even when RabbitMQ
// delivers it twice; it is acked only once it was handed over.
import { randomUUID } from 'node:crypto';

import { connect as amqpConnect } from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';

import { AskTimeout, ClientClosed, ConfigError, HitlError, InvalidRequest, TransportError } from './errors.js';
import type { HumanResponse } from './generated/human-response.js';
import type { InteractionOutcome } from './generated/interaction-outcome.js';
import type { Identity, InteractionRequest } from './generated/interaction-request.js';
import {
  CONTENT_TYPE, DEFAULT_DELIVERY_LIMIT, DEFAULT_NAMESPACE, NAMESPACE_PATTERN, Names, REQUEST_TYPE,
  RESPONSE_TYPE, queueArguments, type QueueType,
} from './names.js';
import { checkRequest, readOutcome } from './validate.js';

export interface ConnectOptions {
  /** Names the reply queue `<namespace>.reply.<service>`; default `$HITL_SERVICE` or `default`. */
  service?: string;
  /** A stable name per replica that must receive only its own outcomes (e.g. a pod name):
   * the reply queue becomes `<service>.<instance>`. */
  instance?: string;
  /** The broker's HITL_NAMESPACE; default `$HITL_NAMESPACE` or `hitl`. */
  namespace?: string;
  /** Must match the broker's (HITL_QUEUE_TYPE, HITL_DELIVERY_LIMIT). */
  queueType?: QueueType;
  deliveryLimit?: number;
  /** Outcomes held unacked at most (those nobody awaits yet count too). */
  prefetch?: number;
  /** Tries to reach RabbitMQ before connect() gives up, with backoff. */
  connectAttempts?: number;
  /** Where an unreadable outcome or a failed ack is reported; default console. */
  logger?: { warn(message: string): void };
}

export interface WaitOptions {
  /** Stop waiting after this long with AskTimeout; the interaction stays pending. */
  timeoutMs?: number;
  /** Stop waiting when aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface AskOptions {
  /** The W3C trace context the request carries (AMQP headers `traceparent`, `tracestate`),
   * so the broker's spans, notifications, answers and the outcome join your trace. */
  traceparent?: string;
  tracestate?: string;
}

type Filled = 'id' | 'reply_to' | 'requester' | 'schema_version';
/** A request as you write it: `id` (a fresh UUID), `reply_to` and `requester` (this client)
 * and `schema_version` are filled in when absent. */
export type AskRequest = InteractionRequest extends infer R
  ? R extends unknown ? Omit<R, Filled> & Partial<Pick<R, Extract<keyof R, Filled>>> : never
  : never;

/** An interaction this client asked or resumed: await its outcome, or cancel it. */
export class Interaction {
  constructor(
    private readonly client: HitlClient,
    /** The interaction id: keep it to `resume(id)` from another process. */
    readonly id: string,
    /** The request as published (undefined for one resumed by id). */
    readonly request?: InteractionRequest,
  ) {}

  /** The outcome, once someone or something decided (a person, the timeout, a cancel). */
  outcome(options: WaitOptions = {}): Promise<InteractionOutcome> {
    return this.client.wait(this.id, options);
  }

  /** Withdraw it; its outcome (status `cancelled`) arrives as usual. */
  cancel(reason?: string): Promise<void> {
    return this.client.cancel(this.id, reason);
  }
}

interface Waiter {
  resolve(outcome: InteractionOutcome): void;
  reject(error: Error): void;
}

interface Held {
  outcome: InteractionOutcome;
  message: ConsumeMessage;
}

const REMEMBERED = 100_000; // interaction ids whose outcome was handed over, for dedup

export async function connect(url?: string, options: ConnectOptions = {}): Promise<HitlClient> {
  return HitlClient.connect(url, options);
}

export class HitlClient {
  readonly names: Names;
  readonly identity: Identity;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly held = new Map<string, Held>(); // unacked: nobody waits for them yet
  private readonly claimed = new Set<string>(); // ids with an Interaction: not for outcomes()
  private readonly arrivals: string[] = []; // held ids in arrival order, for outcomes()
  private readonly inLoop = new Set<string>(); // yielded by outcomes(), acked when the body is done
  private pullers: Array<() => void> = [];
  private readonly delivered = new Map<string, null>();
  private readonly returned = new Set<string>(); // message ids RabbitMQ returned unroutable
  private consumerTag: string | undefined;
  private closing = false;
  private failure: Error | undefined;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly publisher: ConfirmChannel,
    private readonly consumer: Channel,
    names: Names,
    readonly service: string,
    readonly replyTo: string,
    private readonly amqpUser: string | undefined,
    private readonly logger: { warn(message: string): void },
  ) {
    this.names = names;
    this.identity = { id: service, service };
    publisher.on('return', (message: ConsumeMessage) => {
      const id: unknown = message.properties.messageId;
      if (typeof id === 'string') this.returned.add(id);
    });
    const lost = (error?: Error) => this.fail(error);
    connection.on('close', lost);
    publisher.on('close', () => lost());
    consumer.on('close', () => lost());
  }

  /** Connect, make sure hitl's exchanges and the broker's queues exist, declare this
   * producer's durable reply queue and consume it. */
  static async connect(url?: string, options: ConnectOptions = {}): Promise<HitlClient> {
    const target = url ?? process.env['HITL_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';
    const namespace = options.namespace ?? process.env['HITL_NAMESPACE'] ?? DEFAULT_NAMESPACE;
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new ConfigError(`namespace ${JSON.stringify(namespace)} does not match ${NAMESPACE_PATTERN}`);
    }
    const service = options.service ?? process.env['HITL_SERVICE'] ?? 'default';
    const replyTo = options.instance ? `${service}.${options.instance}` : service;
    if (Buffer.byteLength(replyTo) > 255) {
      throw new ConfigError(`the reply_to ${JSON.stringify(replyTo)} is over 255 bytes (an AMQP short string)`);
    }
    const names = new Names(namespace);
    const queueType = options.queueType ?? 'quorum';
    const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
    const connection = await open(target, options.connectAttempts ?? 5, `hitl-client ${replyTo}`);
    connection.on('error', () => {}); // reported through 'close'
    try {
      await ensureBrokerQueues(connection, names, queueType, deliveryLimit);
      const publisher = await connection.createConfirmChannel();
      const consumer = await connection.createChannel();
      for (const channel of [publisher, consumer]) channel.on('error', () => {}); // and 'close'
      await consumer.prefetch(options.prefetch ?? 1000);
      const queue = names.replyQueue(replyTo);
      await declared(`declare queue ${queue}`, () =>
        consumer.assertQueue(queue, { durable: true, arguments: queueArguments(names, queueType, deliveryLimit) }));
      await declared(`bind queue ${queue} to ${names.outcomes}`, () =>
        consumer.bindQueue(queue, names.outcomes, replyTo));
      const client = new HitlClient(
        connection, publisher, consumer, names, service, replyTo, amqpUser(target), options.logger ?? console,
      );
      const { consumerTag } = await consumer.consume(queue, (message) => client.receive(message));
      client.consumerTag = consumerTag;
      return client;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /** Publish a request (validated against the contract first) and return its Interaction;
   * once this resolves RabbitMQ has confirmed it, and its outcome will come to this service's
   * reply queue whatever happens to this process. */
  async ask(request: AskRequest, options: AskOptions = {}): Promise<Interaction> {
    this.usable();
    const full = {
      schema_version: 1,
      ...request,
      id: request.id ?? randomUUID(),
      reply_to: request.reply_to ?? this.replyTo,
      requester: request.requester ?? this.identity,
    };
    if (full.reply_to !== this.replyTo) {
      throw new InvalidRequest([{
        path: 'reply_to',
        message: `this client receives the outcomes of ${JSON.stringify(this.replyTo)} only`,
        allowed: [this.replyTo],
        got: full.reply_to,
      }]);
    }
    const checked = checkRequest(full);
    this.claimed.add(checked.id);
    try {
      const trace = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
      const routed = await this.publish(this.names.requests, checked.kind, checked, {
        type: REQUEST_TYPE, messageId: checked.id, correlationId: checked.id, headers: trace,
      });
      if (!routed) {
        throw new TransportError(
          `no queue is bound to ${this.names.requests}: is the hitl broker running with ` +
            `HITL_NAMESPACE=${this.names.namespace}?`,
        );
      }
    } catch (error) {
      this.claimed.delete(checked.id);
      throw error;
    }
    return new Interaction(this, checked.id, checked);
  }

  /** An interaction asked earlier, by this process or a previous one of this service: its
   * outcome is kept for it (not given to `outcomes()`). */
  resume(interactionId: string): Interaction {
    this.usable();
    this.claimed.add(interactionId);
    return new Interaction(this, interactionId);
  }

  /** Await the outcome of `interactionId` (asked by this or a previous process). */
  async wait(interactionId: string, options: WaitOptions = {}): Promise<InteractionOutcome> {
    const held = this.held.get(interactionId);
    if (held !== undefined) {
      this.held.delete(interactionId);
      this.handOver(interactionId, held.message);
      return held.outcome;
    }
    this.usable();
    options.signal?.throwIfAborted();
    return new Promise<InteractionOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', aborted);
        this.forget(interactionId, waiter);
      };
      const waiter: Waiter = {
        resolve: (outcome) => { done(); resolve(outcome); },
        reject: (error) => { done(); reject(error); },
      };
      const aborted = () => waiter.reject(options.signal?.reason as Error);
      if (options.timeoutMs !== undefined) {
        const ms = options.timeoutMs;
        timer = setTimeout(() => waiter.reject(new AskTimeout(interactionId, ms)), ms);
      }
      options.signal?.addEventListener('abort', aborted, { once: true });
      const waiting = this.waiters.get(interactionId) ?? new Set<Waiter>();
      waiting.add(waiter);
      this.waiters.set(interactionId, waiting);
    });
  }

  /** The outcomes of this service that no Interaction of this process waits for, as they
   * arrive: those of requests an earlier process asked, above all. Each is acked once your
   * loop is done with it (it asks for the next one, or leaves the loop by break, return or
   * throw); a process that dies in the loop body gets it again next time. Several loops share
   * them out. The iteration ends when the client is closed. */
  async *outcomes(): AsyncGenerator<InteractionOutcome, void, undefined> {
    for (;;) {
      const next = await this.nextUnclaimed();
      if (next === undefined) return;
      const [id, held] = next;
      this.inLoop.add(id);
      try {
        yield held.outcome;
      } finally {
        this.inLoop.delete(id);
        this.handOver(id, held.message);
      }
    }
  }

  /** Withdraw a pending interaction; its outcome (status `cancelled`, decided by the
   * requester) arrives as usual. Published as this service, with the connection's user as
   * the AMQP user-id (docs/security.md: a least-privilege producer needs `--cancel`). */
  async cancel(interactionId: string, reason?: string): Promise<void> {
    this.usable();
    const response: HumanResponse = {
      schema_version: 1,
      interaction_id: interactionId,
      response_id: randomUUID(),
      action: 'cancel',
      data: reason ? { reason } : {},
      responder: this.identity,
      channel: 'sdk',
      responded_at: new Date().toISOString(),
    };
    const routed = await this.publish(this.names.responses, interactionId, response, {
      type: RESPONSE_TYPE,
      messageId: String(response.response_id),
      correlationId: interactionId,
      ...(this.amqpUser === undefined ? {} : { userId: this.amqpUser }),
    });
    if (!routed) {
      throw new TransportError(`no queue is bound to ${this.names.responses}: is the hitl broker running?`);
    }
  }

  /** Stop consuming and disconnect. Waiting calls reject with ClientClosed; outcomes not
   * handed over yet stay in the reply queue for the next client of this service. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.consumerTag !== undefined && this.failure === undefined) {
      await this.consumer.cancel(this.consumerTag).catch(() => {});
    }
    this.settle(new ClientClosed('the hitl client was closed; the outcome stays in the reply queue'));
    await this.connection.close().catch(() => {});
  }

  // --- receiving ----------------------------------------------------------------------------

  private receive(message: ConsumeMessage | null): void {
    if (message === null) {
      this.fail(new TransportError(`RabbitMQ cancelled the consumer of ${this.names.replyQueue(this.replyTo)} (was it deleted?)`));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      return this.deadLetter(message, 'it is not JSON');
    }
    const read = readOutcome(body);
    if ('problem' in read) return this.deadLetter(message, read.problem);
    const { outcome } = read;
    const id = outcome.interaction_id;
    if (this.delivered.has(id) || this.held.has(id) || this.inLoop.has(id)) {
      this.ack(message); // a second copy (a redelivery after a crash): handed over already
      return;
    }
    const waiting = this.waiters.get(id);
    if (waiting !== undefined && waiting.size > 0) {
      if (!this.handOver(id, message)) return; // not acked: it comes again on reconnection
      for (const waiter of [...waiting]) waiter.resolve(outcome);
      return;
    }
    this.held.set(id, { outcome, message }); // held unacked until someone asks for it
    if (!this.claimed.has(id)) {
      this.arrivals.push(id);
      const pullers = this.pullers;
      this.pullers = [];
      for (const wake of pullers) wake();
    }
  }

  private async nextUnclaimed(): Promise<[string, Held] | undefined> {
    for (;;) {
      while (this.arrivals.length > 0) {
        const id = this.arrivals.shift() as string;
        const held = this.held.get(id);
        if (held !== undefined && !this.claimed.has(id)) {
          this.held.delete(id);
          return [id, held];
        }
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.closing) return undefined;
      await new Promise<void>((wake) => this.pullers.push(wake));
    }
  }

  /** Ack an outcome handed over to the caller and remember its id (dedup). */
  private handOver(interactionId: string, message: ConsumeMessage): boolean {
    this.claimed.delete(interactionId);
    if (!this.ack(message)) return false;
    this.delivered.set(interactionId, null);
    if (this.delivered.size > REMEMBERED) {
      const oldest = this.delivered.keys().next();
      if (!oldest.done) this.delivered.delete(oldest.value);
    }
    return true;
  }

  private ack(message: ConsumeMessage): boolean {
    try {
      this.consumer.ack(message);
      return true;
    } catch (error) {
      this.logger.warn(`hitl: could not ack outcome ${String(message.properties.messageId)}: ${String(error)}`);
      return false;
    }
  }

  private deadLetter(message: ConsumeMessage, why: string): void {
    this.logger.warn(
      `hitl: dead-lettering an unreadable outcome (message_id=${String(message.properties.messageId)}): ${why}`,
    );
    try {
      this.consumer.nack(message, false, false);
    } catch {
      // the channel is gone: the message goes back to the queue by itself
    }
  }

  private forget(interactionId: string, waiter: Waiter): void {
    const waiting = this.waiters.get(interactionId);
    waiting?.delete(waiter);
    if (waiting?.size === 0) this.waiters.delete(interactionId);
  }

  // --- publishing ---------------------------------------------------------------------------

  private publish(
    exchange: string,
    routingKey: string,
    body: object,
    properties: {
      type: string; messageId: string; correlationId: string; userId?: string; headers?: Record<string, string>;
    },
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      try {
        this.publisher.publish(
          exchange,
          routingKey,
          Buffer.from(JSON.stringify(body)),
          { ...properties, contentType: CONTENT_TYPE, persistent: true, mandatory: true },
          (error: unknown) => {
            if (error) {
              reject(new TransportError(`RabbitMQ did not confirm the publish to ${exchange}: ${String(error)}`, { cause: error }));
            } else {
              resolve(!this.returned.delete(properties.messageId)); // a return precedes its confirm
            }
          },
        );
      } catch (error) {
        reject(new TransportError(`cannot publish to ${exchange}: ${String(error)}`, { cause: error }));
      }
    });
  }

  // --- failure ------------------------------------------------------------------------------

  private usable(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing) throw new ClientClosed('the hitl client is closed');
  }

  private fail(error?: Error): void {
    if (this.closing || this.failure !== undefined) return;
    this.failure = new TransportError(
      'the connection to RabbitMQ was lost; outcomes not handed over stay in the reply queue: ' +
        `connect again and resume(id)${error ? ` (${error.message})` : ''}`,
      error ? { cause: error } : undefined,
    );
    this.settle(this.failure);
    this.connection.close().catch(() => {});
  }

  private settle(error: Error): void {
    for (const waiting of [...this.waiters.values()]) {
      for (const waiter of [...waiting]) waiter.reject(error);
    }
    this.waiters.clear();
    const pullers = this.pullers;
    this.pullers = [];
    for (const wake of pullers) wake();
  }
}

// --- connecting and declaring -----------------------------------------------------------------

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** The user the URL logs in as, for the AMQP user-id of what we publish (RabbitMQ refuses any
 * other). Undefined when the URL names none, or with EXTERNAL (certificate) authentication. */
function amqpUser(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if ((parsed.searchParams.get('auth') ?? '').toLowerCase() === 'external') return undefined;
    return parsed.username ? decodeURIComponent(parsed.username) : undefined;
  } catch {
    return undefined;
  }
}

async function open(url: string, attempts: number, name: string): Promise<ChannelModel> {
  let last: unknown;
  for (let attempt = 1; attempt <= Math.max(1, attempts); attempt += 1) {
    try {
      return await amqpConnect(url, { clientProperties: { connection_name: name } });
    } catch (error) {
      last = error;
      if (/ACCESS_REFUSED|403/.test(String(error))) break; // a wrong login is not retried
      if (attempt < attempts) await new Promise((done) => setTimeout(done, Math.min(250 * 2 ** attempt, 5000)));
    }
  }
  throw new TransportError(`RabbitMQ at ${redacted(url)} not reachable after ${attempts} tries: ${String(last)}`, {
    cause: last,
  });
}

function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A declare RabbitMQ refused, as an error that says what to fix. */
async function declared<T>(what: string, declare: () => Promise<T>): Promise<T> {
  try {
    return await declare();
  } catch (error) {
    const code = codeOf(error);
    if (code === 406) {
      throw new ConfigError(`${what}: it already exists with other arguments (delete it, or match the broker's ` +
        `HITL_QUEUE_TYPE and HITL_DELIVERY_LIMIT with queueType and deliveryLimit): ${String(error)}`, { cause: error });
    }
    if (code === 403) {
      throw new ConfigError(`RabbitMQ refused to ${what}: give this user a producer's permissions ` +
        `(hitl access rabbitmq producer, docs/security.md): ${String(error)}`, { cause: error });
    }
    throw error instanceof HitlError ? error : new TransportError(`cannot ${what}: ${String(error)}`, { cause: error });
  }
}

/** As the Python SDK's ensure_broker_queues: check passively that the exchanges and the
 * broker's queues exist (a request published before any broker ran then waits for it), and
 * declare them as the broker does when they are missing. */
async function ensureBrokerQueues(
  connection: ChannelModel, names: Names, queueType: QueueType, deliveryLimit: number,
): Promise<void> {
  const check = await connection.createChannel();
  check.on('error', () => {});
  try {
    for (const exchange of [...names.exchanges, names.deadLetter]) await check.checkExchange(exchange);
    for (const queue of [names.requestsQueue, names.responsesQueue, names.deadLetterQueue]) await check.checkQueue(queue);
    await check.close();
    return;
  } catch (error) {
    if (codeOf(error) !== 404) throw new TransportError(`cannot check hitl's topology: ${String(error)}`, { cause: error });
  }
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  try {
    for (const exchange of [...names.exchanges, names.deadLetter]) {
      await declared(`declare exchange ${exchange}`, () => channel.assertExchange(exchange, 'topic', { durable: true }));
    }
    const queues: Array<[string, string, boolean]> = [
      [names.deadLetterQueue, names.deadLetter, false],
      [names.requestsQueue, names.requests, true],
      [names.responsesQueue, names.responses, true],
    ];
    for (const [queue, exchange, deadLetter] of queues) {
      const args = queueArguments(names, queueType, deliveryLimit, deadLetter);
      await declared(`declare queue ${queue}`, () => channel.assertQueue(queue, { durable: true, arguments: args }));
      await declared(`bind queue ${queue}`, () => channel.bindQueue(queue, exchange, '#'));
    }
  } finally {
    await channel.close().catch(() => {});
  }
}
