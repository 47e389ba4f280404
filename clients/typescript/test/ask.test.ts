// Ask and await against a real broker: approval, choice and form answered by a person over
// AMQP; cancel; a wait that times out and is taken up again; the request refused before it is
// published, with the field that is wrong.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { AskTimeout, HitlError, InvalidRequest, KINDS, TransportError, connect, type HitlClient } from '../src/index.js';
import { AMQP_URL, NAMESPACE, Rabbit, client, eventually, names, uniqueService } from './support.js';

describe('ask and await', () => {
  const service = uniqueService('ask');
  let hitl: HitlClient;
  let rabbit: Rabbit;

  before(async () => {
    rabbit = await Rabbit.open();
    hitl = await client(service);
  });
  after(async () => {
    await hitl?.close();
    await rabbit?.deleteQueue(names.replyQueue(service));
    await rabbit?.close();
  });

  it('an approval: the person decides, the outcome comes back with the resume state', async () => {
    const asked = await hitl.ask({
      kind: 'approval',
      thread_id: 'invoice-run-42',
      prompt: 'Pay invoice INV-1042 (500.00 EUR) to ACME GmbH?',
      context: { invoice: 'INV-1042' },
      resume_state: { step: 3 },
    });
    assert.match(asked.id, /^[0-9a-f-]{36}$/);
    assert.equal(asked.request?.reply_to, service);
    assert.deepEqual(asked.request?.requester, { id: service, service });
    const receipt = await rabbit.answer(asked.id, 'approve', { reason: 'within budget' });
    assert.equal(receipt.result, 'accepted', JSON.stringify(receipt));
    const outcome = await asked.outcome({ timeoutMs: 10_000 });
    assert.equal(outcome.interaction_id, asked.id);
    assert.equal(outcome.status, 'resolved');
    assert.equal(outcome.action, 'approve');
    assert.deepEqual(outcome.data, { reason: 'within budget' });
    assert.equal(outcome.decided_by.type, 'person');
    assert.equal(outcome.decided_by.identity?.id, 'alice@example.com');
    assert.deepEqual(outcome.resume_state, { step: 3 });
    assert.equal(outcome.thread_id, 'invoice-run-42');
  });

  it('a trace context goes with the request as its traceparent and tracestate headers', async () => {
    const headers: Array<Record<string, unknown>> = [];
    await rabbit.copies(names.requests, (message) => headers.push(message.properties.headers ?? {}));
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const asked = await hitl.ask(
      { kind: 'approval', thread_id: 'traced-1', prompt: 'Traced?' }, { traceparent, tracestate: 'hitl=1' },
    );
    await eventually(() => headers.length === 1);
    assert.equal(headers[0]?.['traceparent'], traceparent);
    assert.equal(headers[0]?.['tracestate'], 'hitl=1');
    await asked.cancel();
    assert.equal((await asked.outcome({ timeoutMs: 10_000 })).status, 'cancelled');
  });

  it('a choice: the option the person picked, by number', async () => {
    const asked = await hitl.ask({
      kind: 'choice',
      thread_id: 'deploy-7',
      prompt: 'Where to deploy?',
      options: ['Staging', 'Production (us-east-1)', 'Production (eu-west-1)'],
    });
    const waiting = asked.outcome({ timeoutMs: 10_000 }); // awaited before the answer comes
    assert.equal((await rabbit.answer(asked.id, 'choose', { choice: 2 })).result, 'accepted');
    const outcome = await waiting;
    assert.equal(outcome.action, 'choose');
    assert.equal(outcome.data?.['choice'], 2);
    assert.equal(outcome.data?.['value'], 'Production (us-east-1)');
  });

  it('a form: the answers with defaults filled; a refused answer leaves it pending', async () => {
    const asked = await hitl.ask({
      kind: 'form',
      thread_id: 'chat-9',
      prompt: 'Register the service',
      fields: [
        { name: 'name', type: 'string', required: true },
        { name: 'replicas', type: 'integer', minimum: 1, default: 2 },
      ],
    });
    const refused = await rabbit.answer(asked.id, 'submit', { answers: { replicas: 0 } });
    assert.equal(refused.result, 'rejected', JSON.stringify(refused));
    const accepted = await rabbit.answer(asked.id, 'submit', { answers: { name: 'billing' } });
    assert.equal(accepted.result, 'accepted', JSON.stringify(accepted));
    const outcome = await asked.outcome({ timeoutMs: 10_000 });
    assert.deepEqual(outcome.data?.['answers'], { name: 'billing', replicas: 2 });
  });

  it('cancel: the outcome is cancelled, decided by the requester, with the reason', async () => {
    const asked = await hitl.ask({ kind: 'approval', thread_id: 'refund-3', prompt: 'Refund 20 EUR?' });
    await asked.cancel('the customer withdrew the claim');
    const outcome = await asked.outcome({ timeoutMs: 10_000 });
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.action, 'cancel');
    assert.equal(outcome.decided_by.type, 'requester');
    assert.equal(outcome.decided_by.identity?.id, service);
    assert.deepEqual(outcome.data, { reason: 'the customer withdrew the claim' });
    const late = await rabbit.answer(asked.id, 'approve');
    assert.equal(late.result, 'already_resolved');
  });

  it('a wait that times out is an AskTimeout; the interaction stays pending and is awaited again', async () => {
    const asked = await hitl.ask({ kind: 'text_input', thread_id: 'notes-1', prompt: 'Release notes?' });
    const started = Date.now();
    await assert.rejects(asked.outcome({ timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof AskTimeout && error instanceof HitlError);
      assert.equal(error.interactionId, asked.id);
      assert.match(error.message, /within 300 ms; it is still pending/);
      return true;
    });
    assert.ok(Date.now() - started >= 290);
    assert.equal((await rabbit.answer(asked.id, 'respond', { text: 'Faster outcomes.' })).result, 'accepted');
    const outcome = await asked.outcome({ timeoutMs: 10_000 });
    assert.equal(outcome.data?.['text'], 'Faster outcomes.');
  });

  it('a request the contract refuses is an InvalidRequest naming the field, and is not published', async () => {
    const published: string[] = [];
    await rabbit.copies(names.requests, (message) => published.push(String(message.properties.messageId)));
    const refused = async (request: unknown, path: string, check: (error: InvalidRequest) => void = () => {}) => {
      await assert.rejects(hitl.ask(request as never), (error: unknown) => {
        assert.ok(error instanceof InvalidRequest, String(error));
        assert.equal(error.path, path, error.message);
        check(error);
        return true;
      });
    };
    await refused({ kind: 'choice', thread_id: 't', prompt: 'Which?' }, 'options', (error) => {
      assert.equal(error.message, 'invalid request at options: a required field is missing');
    });
    await refused(
      { kind: 'approval', thread_id: 't', prompt: 'Ok?', on_timeout: { action: 'choose' } },
      'on_timeout.action',
      (error) => {
        assert.deepEqual(error.allowed, ['timeout', 'approve', 'reject', 'cancel', 'best_judgement']);
        assert.equal(error.got, 'choose');
        assert.equal(error.message, 'invalid request at on_timeout.action: must be equal to one of the allowed ' +
          'values; allowed: "timeout", "approve", "reject", "cancel", "best_judgement"; got "choose"');
      },
    );
    await refused({ kind: 'approve', thread_id: 't', prompt: 'Ok?' }, 'kind', (error) => {
      assert.deepEqual(error.allowed, KINDS);
      assert.match(error.message, /"approve"/);
    });
    await refused({ kind: 'approval', thread_id: 't', prompt: 'Ok?', promt: 'typo' }, 'promt', (error) => {
      assert.match(error.message, /unknown fields are refused/);
    });
    await refused({ kind: 'choice', thread_id: 't', prompt: 'Which?', options: ['a', 'b'], min_selections: -1 }, 'min_selections');
    await refused({ kind: 'approval', thread_id: 't', prompt: 'Ok?', reply_to: 'someone-else' }, 'reply_to');
    // None of them was published: a copy of what reaches the requests exchange holds only the
    // good request asked after them.
    const good = await hitl.ask({ kind: 'approval', thread_id: 't', prompt: 'Ok?' });
    await eventually(() => published.length === 1);
    assert.deepEqual(published, [good.id]);
    await good.cancel();
  });

  it('an outcome that is not one is dead-lettered with a warning; the client goes on', async () => {
    const noisy = uniqueService('unreadable');
    const warnings: string[] = [];
    const own = await connect(AMQP_URL, { service: noisy, namespace: NAMESPACE, logger: { warn: (m) => warnings.push(m) } });
    try {
      const [garbled, partial] = [`outcome:garbled-${noisy}`, `outcome:partial-${noisy}`];
      await rabbit.publish(names.outcomes, noisy, Buffer.from('not json'), { type: 'hitl.outcome', messageId: garbled });
      await rabbit.publish(names.outcomes, noisy, { interaction_id: 'x' }, { type: 'hitl.outcome', messageId: partial });
      await eventually(() => warnings.length === 2);
      assert.equal(warnings[0], `hitl: dead-lettering an unreadable outcome (message_id=${garbled}): it is not JSON`);
      assert.match(warnings[1] ?? '', /^hitl: dead-lettering an unreadable outcome \(message_id=outcome:partial-.*\): .*a required field is missing$/);
      const dead: string[] = [];
      await eventually(async () => {
        const message = await rabbit.channel.get(names.deadLetterQueue, { noAck: true });
        const id = message ? String(message.properties.messageId) : '';
        if ([garbled, partial].includes(id)) dead.push(id); // the dead-letter queue is the namespace's
        return dead.length === 2;
      });
      assert.deepEqual(dead.sort(), [garbled, partial].sort());
      const asked = await own.ask({ kind: 'approval', thread_id: 't', prompt: 'Still there?' });
      await rabbit.answer(asked.id, 'approve');
      assert.equal((await asked.outcome({ timeoutMs: 10_000 })).action, 'approve');
    } finally {
      await own.close();
      await rabbit.deleteQueue(names.replyQueue(noisy));
    }
  });

  it('an unreachable RabbitMQ is a TransportError that names it, without its password', async () => {
    await assert.rejects(
      connect('amqp://guest:secret@127.0.0.1:1/', { service, connectAttempts: 1 }),
      (error: unknown) => {
        assert.ok(error instanceof TransportError);
        assert.match(error.message, /RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1\/ not reachable after 1 tries/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
  });
});
