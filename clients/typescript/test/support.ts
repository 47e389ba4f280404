// What the tests share: the servers they run against (a real RabbitMQ and a `hitl broker` on a
// namespace of their own, which tests/docs/test_typescript_client.py starts and tears down),
// and a person who answers over AMQP as a notifier bot does (docs/contract.md, "Answering").
import { randomUUID } from 'node:crypto';

import { connect as amqpConnect } from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

import { connect, type HitlClient } from '../src/index.js';
import type { ResponseReceipt } from '../src/index.js';
import { Names } from '../src/names.js';

export const AMQP_URL = process.env['HITL_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';
const namespace = process.env['HITL_NAMESPACE'];
if (!namespace) {
  throw new Error(
    'HITL_NAMESPACE is not set: these tests need a `hitl broker` running on a namespace of their own ' +
      '(`uv run pytest tests/docs/test_typescript_client.py` starts one and runs them)',
  );
}
export const NAMESPACE: string = namespace;
const USER = decodeURIComponent(new URL(AMQP_URL).username);
export const names = new Names(NAMESPACE);

/** A service name of its own for each test, so no test sees another's outcomes. */
export const uniqueService = (label: string): string => `ts-${label}-${randomUUID().slice(0, 8)}`;

/** A client of `service`; `done()` closes it. */
export const client = (service: string): Promise<HitlClient> =>
  connect(AMQP_URL, { service, namespace: NAMESPACE, connectAttempts: 2 });

/** RabbitMQ as a test sees it: answer as a person, publish raw messages, look at queues. */
export class Rabbit {
  private constructor(private readonly connection: ChannelModel, readonly channel: Channel, private readonly receipts: string) {}
  private readonly waiting = new Map<string, (receipt: ResponseReceipt) => void>();

  static async open(): Promise<Rabbit> {
    const connection = await amqpConnect(AMQP_URL);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    const rabbit = new Rabbit(connection, channel, queue);
    await channel.consume(queue, (message: ConsumeMessage | null) => {
      if (message === null) return;
      const receipt = JSON.parse(message.content.toString('utf8')) as ResponseReceipt;
      rabbit.waiting.get(String(message.properties.correlationId))?.(receipt);
    }, { noAck: true });
    return rabbit;
  }

  /** A person's answer, published to the responses exchange; resolves with the broker's
   * receipt (retried while the broker holds it because the request is not stored yet). */
  async answer(interactionId: string, action: string, data: Record<string, unknown> = {}, who = 'alice@example.com'): Promise<ResponseReceipt> {
    const response = {
      schema_version: 1,
      interaction_id: interactionId,
      response_id: randomUUID(),
      action,
      data,
      responder: { id: who },
      channel: 'test',
    };
    const receipt = new Promise<ResponseReceipt>((resolve) => {
      this.waiting.set(response.response_id, (got) => {
        if (got.result === 'held') return; // a second receipt follows when it is applied
        this.waiting.delete(response.response_id);
        resolve(got);
      });
    });
    await this.publish(names.responses, interactionId, response, {
      type: 'hitl.response', messageId: response.response_id, correlationId: response.response_id, replyTo: this.receipts,
      ...(USER ? { userId: USER } : {}), // RabbitMQ checks it is the connection's user
    });
    return receipt;
  }

  async publish(exchange: string, key: string, body: unknown, properties: Record<string, unknown> = {}): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    this.channel.publish(exchange, key, content, { contentType: 'application/json', persistent: true, ...properties });
    await (this.channel as unknown as { waitForConfirms(): Promise<void> }).waitForConfirms();
  }

  /** Calls `seen` with a copy of each message published to `exchange` from now on. */
  async copies(exchange: string, seen: (message: ConsumeMessage) => void): Promise<void> {
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.channel.bindQueue(queue, exchange, '#');
    await this.channel.consume(queue, (message) => message && seen(message), { noAck: true });
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Delete a reply queue a test made (the namespace's teardown does not know its name). */
  async deleteQueue(queue: string): Promise<void> {
    await this.channel.deleteQueue(queue);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Wait until `check()` is true, or fail after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}
