// Resume later: a process asks and exits; the answers come while no process of the service
// runs; a later process picks the outcomes up from the durable reply queue, by id or as they
// come, each once (a second copy is dropped), and acks them only once they were handed over.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { InteractionOutcome } from '../src/index.js';
import { Rabbit, client, eventually, names, uniqueService } from './support.js';

const ASKER = join(dirname(fileURLToPath(import.meta.url)), 'asker.js');

/** Runs test/asker.ts in a process of its own; the ids it asked. */
async function askAndExit(service: string, count: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [ASKER, service, String(count)], { timeout: 20_000 });
  const ids = stdout.trim().split('\n');
  assert.equal(ids.length, count, stdout);
  return ids;
}

describe('resume later', () => {
  let rabbit: Rabbit;
  const services: string[] = [];
  const service = (label: string) => {
    const name = uniqueService(label);
    services.push(name);
    return name;
  };

  before(async () => {
    rabbit = await Rabbit.open();
  });
  after(async () => {
    for (const name of services) await rabbit.deleteQueue(names.replyQueue(name));
    await rabbit.close();
  });

  it('by id: the outcome of a request asked by a process that has exited', async () => {
    const billing = service('by-id');
    const [id] = await askAndExit(billing, 1);
    assert.ok(id);
    assert.equal((await rabbit.answer(id, 'reject', { reason: 'duplicate build' })).result, 'accepted');
    const queue = names.replyQueue(billing);
    await eventually(async () => (await rabbit.messageCount(queue)) === 1); // kept for the service

    const hitl = await client(billing);
    try {
      const outcome = await hitl.resume(id).outcome({ timeoutMs: 10_000 });
      assert.equal(outcome.interaction_id, id);
      assert.equal(outcome.action, 'reject');
      assert.deepEqual(outcome.resume_state, { build: 0 });
      // Handed over, so acked: RabbitMQ holds it no more.
      await eventually(async () => (await rabbit.messageCount(queue)) === 0);
    } finally {
      await hitl.close();
    }
    assert.equal(await rabbit.messageCount(queue), 0, 'acked, so not redelivered after close');
  });

  it('as they come: outcomes() yields each once, a second copy is dropped, an unread one comes back', async () => {
    const nightly = service('iterate');
    const ids = await askAndExit(nightly, 3);
    for (const id of ids) assert.equal((await rabbit.answer(id, 'approve')).result, 'accepted');
    const queue = names.replyQueue(nightly);
    await eventually(async () => (await rabbit.messageCount(queue)) === 3);

    // A process that takes one outcome and stops: only that one is acked.
    const first = await client(nightly);
    let taken: InteractionOutcome | undefined;
    try {
      for await (const outcome of first.outcomes()) {
        taken = outcome;
        break;
      }
    } finally {
      await first.close();
    }
    assert.ok(taken && ids.includes(taken.interaction_id));
    await eventually(async () => (await rabbit.messageCount(queue)) === 2);

    // The next one gets the other two, each once: a second copy of an outcome it handed over
    // (RabbitMQ may deliver one twice after a crash) is acked and dropped, not yielded again.
    const second = await client(nightly);
    const seen: string[] = [];
    const copy = (outcome: InteractionOutcome) =>
      rabbit.publish(names.outcomes, nightly, outcome, {
        type: 'hitl.outcome', messageId: `outcome:${outcome.interaction_id}`, correlationId: outcome.interaction_id,
      });
    try {
      for await (const outcome of second.outcomes()) {
        assert.equal(outcome.status, 'resolved');
        seen.push(outcome.interaction_id);
        if (seen.length === 2) {
          await copy(outcome); // handed over here: dropped
          await copy(taken); // handed over by the first process only: this one's to hand over
        }
        if (seen.length === 3) break;
      }
    } finally {
      await second.close();
    }
    assert.deepEqual(seen.slice(0, 2).sort(), ids.filter((id) => id !== taken?.interaction_id).sort());
    assert.equal(seen[2], taken.interaction_id);
    assert.equal(await rabbit.messageCount(queue), 0, 'every copy acked');
  });
});
