// A producer process that asks and exits without waiting: `node asker.js SERVICE N` asks N
// approvals, prints their ids one a line, and closes. Their outcomes wait in the service's
// durable reply queue for a later process (test/resume.test.ts).
import { connect } from '../src/index.js';

const [service, count] = process.argv.slice(2);
if (!service) throw new Error('usage: asker.js SERVICE [N]');
const hitl = await connect(process.env['HITL_AMQP_URL'], { service, namespace: process.env['HITL_NAMESPACE'] ?? 'hitl' });
try {
  for (let i = 0; i < Number(count ?? 1); i += 1) {
    const asked = await hitl.ask({
      kind: 'approval', thread_id: `nightly-${i}`, prompt: `Ship build ${i}?`, resume_state: { build: i },
    });
    console.log(asked.id);
  }
} finally {
  await hitl.close();
}
