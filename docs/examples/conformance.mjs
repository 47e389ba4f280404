// conformance.mjs: checks a running hitl broker against its wire contract, from outside Python.
//
// Its only knowledge is docs/contract.md (and the worked examples of docs/kinds.md) and the JSON
// Schemas in schemas/json. It asks a request of every kind as a producer would, answers each as a
// notifier bot would, sends bad requests and bad answers, and checks everything it gets back: each
// message against the schema of its AMQP `type`, the AMQP properties, lifecycle events and every
// dead-letter header. It prints one line per group of checks, then every violation with the
// message, the field and what the contract says, and exits 0 only when nothing was violated.
//
//   HITL_AMQP_URL       amqp://guest:guest@127.0.0.1:5672/
//   HITL_NAMESPACE      hitl (the broker's HITL_NAMESPACE; best a namespace of its own: the client
//                       reads <ns>.dead-letter and acks the dead letters it caused; when that
//                       queue already holds messages it reads copies from <ns>.dlx instead)
//   HITL_SERVICE        conformance (its reply queue <ns>.reply.<service>, deleted at the end)
//   HITL_SCHEMAS        ../../schemas/json next to this file
//   HITL_CONFORMANCE_SECONDS   60: it stops by itself after this long
//   HITL_CONFORMANCE_DUMP      a file: every message received is appended there as a JSON line
//
// Node >= 20; `npm ci` in docs/examples installs amqplib, ajv and ajv-formats.
// tests/docs/test_conformance_js.py runs it against a real broker.

import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { EventEmitter } from 'node:events';
import amqp from 'amqplib';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const url = process.env.HITL_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
const ns = process.env.HITL_NAMESPACE || 'hitl';
const service = process.env.HITL_SERVICE || 'conformance';
const schemasDir = process.env.HITL_SCHEMAS || fileURLToPath(new URL('../../schemas/json/', import.meta.url));
const budgetMs = 1000 * Number(process.env.HITL_CONFORMANCE_SECONDS || 60);
const started = Date.now();
const deadline = started + budgetMs;
const run = randomUUID().slice(0, 8);

const CONTRACT = 'docs/contract.md';
const KINDS = 'docs/kinds.md';
const names = {
  requests: `${ns}.requests`,
  responses: `${ns}.responses`,
  outcomes: `${ns}.outcomes`,
  notifications: `${ns}.notifications`,
  events: `${ns}.events`,
  dlx: `${ns}.dlx`,
  deadLetter: `${ns}.dead-letter`,
  reply: `${ns}.reply.${service}`,
};
// "Queues are durable quorum queues with these arguments" (docs/contract.md).
const QUEUE_ARGUMENTS = {
  'x-queue-type': 'quorum',
  'x-dead-letter-exchange': names.dlx,
  'x-delivery-limit': 5,
};

// ---------------------------------------------------------------------------------------------
// Checks and the report

const GROUPS = [
  'setup and publishing',
  'requests the schema accepts',
  'round trips',
  'bad requests',
  'bad answers',
  'schemas of received messages',
  'AMQP properties',
  'lifecycle events',
  'dead-letter headers',
  'cleanup',
];
const counts = new Map(GROUPS.map((g) => [g, { checks: 0, violations: 0 }]));
const violations = [];
const notes = [];

/** Count one check of `group`; when `ok` is false record what was violated. */
function check(group, ok, { message, field, got, doc }) {
  const c = counts.get(group);
  c.checks += 1;
  if (!ok) {
    c.violations += 1;
    violations.push({ group, message, field, got, doc });
  }
  return Boolean(ok);
}

const show = (value) => {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
};

function report() {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const lines = [
    `hitl conformance: namespace ${ns}, service ${service}, ${received.length} messages received, ${seconds} s`,
  ];
  for (const [group, { checks, violations: bad }] of counts) {
    const verdict = bad === 0 && checks > 0 ? 'PASS' : 'FAIL';
    lines.push(`${verdict} ${group.padEnd(30)} ${String(checks).padStart(4)} checks` +
               (bad ? `, ${bad} violation${bad === 1 ? '' : 's'}` : ''));
  }
  for (const [group, { checks }] of counts) {
    if (checks === 0) violations.push({ group, message: 'this group', field: 'checks', got: 0, doc: 'every group of checks runs' });
  }
  for (const note of notes) lines.push(`note: ${note}`);
  if (violations.length) {
    lines.push('', `${violations.length} violation${violations.length === 1 ? '' : 's'}:`);
    violations.forEach((v, n) => {
      lines.push(`${n + 1}. [${v.group}] ${v.message}`,
                 `   field: ${v.field}`,
                 `   got:   ${show(v.got)}`,
                 `   doc:   ${v.doc}`);
    });
  } else {
    lines.push('', 'every check passed');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The schemas (draft 2020-12)

// The draft 2020-12 keywords are all checked; ajv's own stricter rules of schema style
// (strictTypes and the like) are not the contract's, so they are off.
const ajv = new Ajv2020({
  allErrors: true, strictSchema: true, strictNumbers: true, strictTypes: false, strictTuples: false, strictRequired: false,
});
addFormats(ajv);
ajv.addKeyword({ keyword: 'discriminator' }); // OpenAPI's annotation; the oneOf decides
const schemaIds = {};
const validator = (file) => {
  if (!schemaIds[file]) throw new Error(`${schemasDir} has no ${file}`);
  return ajv.getSchema(schemaIds[file]);
};
let validateRequest;
let validateResponse;
let KIND_DEFS; // kind -> $ref of its own schema
let KIND_NAMES;
let ERROR_CODES;

/** Reads and compiles schemas/json; throws when a schema cannot be used. */
function loadSchemas() {
  const read = (file) => JSON.parse(readFileSync(`${schemasDir}/${file}`, 'utf8'));
  for (const file of readdirSync(schemasDir).filter((f) => f.endsWith('.schema.json')).sort()) {
    const schema = read(file);
    ajv.addSchema(schema);
    schemaIds[file] = schema.$id;
  }
  for (const file of Object.keys(schemaIds)) validator(file); // compiles it
  validateRequest = validator('interaction-request.schema.json');
  validateResponse = validator('human-response.schema.json');
  // Each kind's own schema: the oneOf's $refs, by their `kind` const.
  const requestSchema = read('interaction-request.schema.json');
  KIND_DEFS = Object.fromEntries(requestSchema.oneOf.map(({ $ref }) => {
    const name = $ref.split('/').pop();
    return [requestSchema.$defs[name].properties.kind.const, $ref];
  }));
  KIND_NAMES = Object.keys(KIND_DEFS).sort();
  ERROR_CODES = read('response-receipt.schema.json').$defs.ErrorCode.enum;
}
const kindSchema = (kind) => (KIND_DEFS[kind]
  ? ajv.getSchema(`${schemaIds['interaction-request.schema.json']}${KIND_DEFS[kind]}`) : null);
/** Why the schema of the request's own kind refuses it (the oneOf's errors name every kind). */
const kindErrors = (request) => {
  const validate = kindSchema(request.kind);
  return validate && !validate(request) ? `$defs of ${request.kind}: ${schemaErrors(validate)}` : schemaErrors(validateRequest);
};
// The AMQP `type` of each message the broker publishes, and its schema (docs/contract.md table).
const TYPES = {
  'hitl.notification': 'notification.schema.json',
  'hitl.outcome': 'interaction-outcome.schema.json',
  'hitl.receipt': 'response-receipt.schema.json',
  'hitl.events': 'lifecycle-events.schema.json',
};
const schemaErrors = (validate) =>
  (validate.errors || []).map((e) => `${e.instancePath || '/'} ${e.message}` +
    (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '')).slice(0, 6).join('; ');

// ---------------------------------------------------------------------------------------------
// What arrives: every delivery is recorded, checked, and wakes the waiters

const received = [];
const bus = new EventEmitter();
bus.setMaxListeners(0);
const outcomes = new Map(); // interaction id -> [record]
const notifications = new Map(); // interaction id -> [record]
const receipts = new Map(); // correlation id -> [record]
const deadLetters = new Map(); // message id -> [record]
const events = []; // {event, record}
const ours = new Set(); // message ids this run published, and the outcome it expects dead-lettered
const sent = new Map(); // message id -> the AMQP properties it was published with

const push = (map, key, value) => {
  if (!map.has(key)) map.set(key, []);
  map.get(key).push(value);
};

function remaining() {
  return Math.max(0, deadline - Date.now() - 3000);
}

/** Resolves with `probe()`'s first truthy value, or null after `ms` (or at the deadline). */
function waitFor(probe, ms = 15000) {
  const found = probe();
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(timer);
      bus.off('message', onMessage);
      resolve(value);
    };
    const onMessage = () => {
      const value = probe();
      if (value) done(value);
    };
    const timer = setTimeout(() => done(probe() || null), Math.min(ms, remaining()));
    bus.on('message', onMessage);
  });
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$/;

function receive(queue, message, channel) {
  const { fields, properties } = message;
  const record = { queue, fields, properties, content: message.content, body: undefined };
  received.push(record);
  if (process.env.HITL_CONFORMANCE_DUMP) {
    appendFileSync(process.env.HITL_CONFORMANCE_DUMP, `${JSON.stringify({
      queue, fields, properties, body: message.content.toString('utf8') })}\n`);
  }
  const what = `${properties.type || 'untyped'} message on ${queue} (routing key ${show(fields.routingKey)}, message_id ${show(properties.messageId)})`;
  if (queue === queues.deadLetter) {
    onDeadLetter(record, what, channel, message);
    bus.emit('message');
    return;
  }
  channel.ack(message);
  try {
    record.body = JSON.parse(message.content.toString('utf8'));
  } catch (error) {
    check('schemas of received messages', false, {
      message: what, field: 'body', got: message.content.toString('utf8'),
      doc: `${CONTRACT}: "Every message is JSON" (${error.message})`,
    });
    bus.emit('message');
    return;
  }
  checkProperties(record, what);
  const schema = TYPES[properties.type];
  if (schema) {
    const validate = validator(schema);
    check('schemas of received messages', validate(record.body), {
      message: what, field: `body (${schema})`, got: record.body,
      doc: `schemas/json/${schema}: ${schemaErrors(validate)}`,
    });
  }
  const body = record.body || {};
  switch (properties.type) {
    case 'hitl.notification':
      push(notifications, body.interaction_id, record);
      break;
    case 'hitl.outcome':
      push(outcomes, body.interaction_id, record);
      break;
    case 'hitl.receipt':
      push(receipts, properties.correlationId, record);
      break;
    case 'hitl.events':
      checkEvents(record, what);
      break;
    default:
      break;
  }
  bus.emit('message');
}

// The type each queue receives, and the properties docs/contract.md promises for every message.
const EXPECTED_TYPE = {
  notifications: 'hitl.notification',
  events: 'hitl.events',
  reply: 'hitl.outcome',
  receipts: 'hitl.receipt',
};

function checkProperties(record, what) {
  const { properties, fields, queue } = record;
  const group = 'AMQP properties';
  const every = `${CONTRACT}: "Every message is JSON (content_type application/json), published persistent (delivery_mode 2)"`;
  check(group, properties.contentType === 'application/json', {
    message: what, field: 'content_type', got: properties.contentType, doc: every,
  });
  check(group, properties.deliveryMode === 2, {
    message: what, field: 'delivery_mode', got: properties.deliveryMode, doc: every,
  });
  const expectedType = EXPECTED_TYPE[queueRole(queue)];
  check(group, properties.type === expectedType, {
    message: what, field: 'type', got: properties.type,
    doc: `${CONTRACT}, exchanges table: messages here have AMQP type ${expectedType}`,
  });
  const body = record.body || {};
  if (properties.type === 'hitl.outcome') {
    check(group, properties.messageId === `outcome:${body.interaction_id}`, {
      message: what, field: 'message_id', got: properties.messageId,
      doc: `${CONTRACT}: "message_id is outcome:<id>"`,
    });
    check(group, properties.correlationId === body.interaction_id, {
      message: what, field: 'correlation_id', got: properties.correlationId,
      doc: `${CONTRACT}: "correlation_id is the interaction id"`,
    });
    check(group, fields.exchange === names.outcomes && fields.routingKey === service, {
      message: what, field: 'exchange / routing key', got: `${fields.exchange} ${fields.routingKey}`,
      doc: `${CONTRACT}: ${names.outcomes}, routing key "the request's reply_to" (${service})`,
    });
  }
  if (properties.type === 'hitl.notification') {
    check(group, fields.exchange === names.notifications &&
                 fields.routingKey === `${body.route}.${body.request?.kind}`, {
      message: what, field: 'routing key', got: fields.routingKey,
      doc: `${CONTRACT}: notifications are routed by "<route>.<kind>" (${body.route}.${body.request?.kind})`,
    });
  }
  if (properties.type === 'hitl.receipt') {
    check(group, fields.exchange === '', {
      message: what, field: 'exchange', got: fields.exchange,
      doc: `${CONTRACT}: receipts come "through the default exchange"`,
    });
  }
}

function queueRole(queue) {
  for (const [role, name] of Object.entries(queues)) if (name === queue) return role;
  return 'unknown';
}

// Lifecycle events: the batch's routing key, and each event's id.
function checkEvents(record, what) {
  const group = 'lifecycle events';
  const { fields } = record;
  const batch = Array.isArray(record.body?.events) ? record.body.events : [];
  const [name, ...rest] = fields.routingKey.split('.');
  const kind = rest.join('.');
  for (const [n, event] of batch.entries()) {
    const where = `event ${n} (${event.event} of ${event.interaction_id ?? 'no interaction'}) in ${what}`;
    check(group, event.event === name && (event.kind ?? 'unknown') === kind, {
      message: where, field: 'event, kind vs routing key', got: `${event.event} ${event.kind} under ${fields.routingKey}`,
      doc: `${CONTRACT}: "one LifecycleEvents message per routing key <event>.<kind>, so every event in a message has the same name and kind" (unknown kind for unreadable messages)`,
    });
    const id = typeof event.event_id === 'string' ? event.event_id : '';
    let version = null;
    if (event.event === 'rejected') {
      // "a rejected event, which may have no interaction, has rejected:<source>:<key>"
      const match = /^rejected:(requests|responses|unroutable|outbox):(.+)$/.exec(id);
      check(group, match && match[1] === event.source, {
        message: where, field: 'event_id', got: event.event_id,
        doc: `${CONTRACT}: "a rejected event ... has rejected:<source>:<key>" (here rejected:${event.source}:<key>)`,
      });
    } else {
      // "A step of an interaction has <interaction_id>:<version>:<event>"
      const match = /^(.+):(\d+):([a-z_]+)$/.exec(id);
      const documented = match && match[1] === event.interaction_id && match[3] === event.event;
      check(group, documented, {
        message: where, field: 'event_id', got: event.event_id,
        doc: `${CONTRACT}: "A step of an interaction has <interaction_id>:<version>:<event>" (here ${event.interaction_id}:<version>:${event.event})`,
      });
      if (documented) version = Number(match[2]);
    }
    events.push({ event, record, version });
  }
}

// Dead letters: headers as documented, body and properties the original's. Only the dead letters
// this run caused are acked; others (there should be none in a namespace of its own) are left
// unacked, so RabbitMQ returns them to the queue when the client disconnects.
function onDeadLetter(record, what, channel, message) {
  const { properties, fields } = record;
  const id = properties.messageId;
  if (!ours.has(id)) return; // not ours
  channel.ack(message);
  push(deadLetters, id, record);
  const headers = properties.headers || {};
  check('dead-letter headers', fields.exchange === names.dlx, {
    message: what, field: 'exchange', got: fields.exchange,
    doc: `${CONTRACT}: dead letters are published to the exchange ${names.dlx}`,
  });
  const group = 'dead-letter headers';
  const text = (key) => headers[key];
  const isText = (key) => typeof headers[key] === 'string';
  check(group, ['requests', 'responses', 'unroutable', 'outbox'].includes(fields.routingKey) &&
               fields.routingKey === headers['x-hitl-source'], {
    message: what, field: 'routing key', got: fields.routingKey,
    doc: `${CONTRACT}: "routing key requests, responses, unroutable or outbox (its x-hitl-source)"`,
  });
  check(group, ERROR_CODES.includes(text('x-hitl-error-code')), {
    message: what, field: 'x-hitl-error-code', got: text('x-hitl-error-code'),
    doc: `${CONTRACT}: "one of the error codes below" (${ERROR_CODES.join(', ')})`,
  });
  check(group, isText('x-hitl-error-message') && text('x-hitl-error-message').length > 0, {
    message: what, field: 'x-hitl-error-message', got: text('x-hitl-error-message'),
    doc: `${CONTRACT}: "what was wrong, for a person"`,
  });
  check(group, isText('x-hitl-error-path'), {
    message: what, field: 'x-hitl-error-path', got: text('x-hitl-error-path'),
    doc: `${CONTRACT}: "where in the message, e.g. options[2] ('' for the whole)"`,
  });
  for (const key of ['x-original-exchange', 'x-original-routing-key']) {
    check(group, isText(key), {
      message: what, field: key, got: text(key),
      doc: `${CONTRACT}: "${key === 'x-original-exchange' ? 'the exchange it was first published to' : 'its routing key there'}"`,
    });
  }
  for (const key of ['x-hitl-error-allowed', 'x-hitl-error-got']) {
    let parsed;
    let error = null;
    try {
      parsed = JSON.parse(text(key));
    } catch (e) {
      error = e.message;
    }
    const ok = isText(key) && error === null &&
      (key !== 'x-hitl-error-allowed' || parsed === null || Array.isArray(parsed));
    check(group, ok, {
      message: what, field: key, got: text(key),
      doc: `${CONTRACT}: "JSON text: ${key.endsWith('allowed') ? 'an array of the values that would have been valid' : 'what was sent at that path, as sent'}, or null"` +
           (error ? ` (JSON.parse: ${error})` : ''),
    });
  }
  check(group, ['requests', 'responses', 'unroutable', 'outbox'].includes(headers['x-hitl-source']), {
    message: what, field: 'x-hitl-source', got: headers['x-hitl-source'],
    doc: `${CONTRACT}: "requests, responses, unroutable (an outcome no queue took) or outbox"`,
  });
  const original = sent.get(id);
  if (original) {
    // "published to the exchange hitl.dlx ... with the original body and properties"
    for (const [field, key, value] of [
      ['content_type', 'contentType', original.contentType],
      ['delivery_mode', 'deliveryMode', 2],
      ['type', 'type', original.type],
      ['message_id', 'messageId', original.messageId],
      ['correlation_id', 'correlationId', original.correlationId],
      ['reply_to', 'replyTo', original.replyTo],
    ]) {
      check(group, properties[key] === value, {
        message: what, field, got: properties[key],
        doc: `${CONTRACT}: a dead letter is published "with the original body and properties": sent with ${show(value)}`,
      });
    }
  }
  const rejectedAt = text('x-hitl-rejected-at');
  const when = Date.parse(rejectedAt);
  check(group, isText('x-hitl-rejected-at') && ISO_UTC.test(rejectedAt) && when >= started - 60000 && when <= Date.now() + 60000, {
    message: what, field: 'x-hitl-rejected-at', got: rejectedAt,
    doc: `${CONTRACT}: "when, ISO 8601 UTC" (and during this run)`,
  });
}

// ---------------------------------------------------------------------------------------------
// Publishing

let pub; // the confirm channel
const returned = new Set();

async function publish(exchange, routingKey, body, properties) {
  const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const options = { persistent: true, mandatory: true, contentType: 'application/json', ...properties };
  ours.add(properties.messageId);
  sent.set(properties.messageId, options);
  await new Promise((resolve, reject) => {
    pub.publish(exchange, routingKey, content, options, (error) => (error ? reject(new Error(`${exchange} nacked ${properties.messageId}`)) : resolve()));
  });
  const key = properties.messageId;
  check('setup and publishing', !returned.has(key), {
    message: `${properties.type} ${key} to ${exchange}`, field: 'mandatory publish', got: 'returned (unroutable)',
    doc: `${CONTRACT}: "a confirmed, unreturned publish means hitl has it"; a returned one means no broker queue in ${ns}`,
  });
  return content;
}

function requestOf(kind, fields, extra = {}) {
  return {
    schema_version: 1,
    kind,
    id: randomUUID(),
    thread_id: `conformance-${run}`,
    ...fields,
    reply_to: service,
    requester: { id: service, display_name: null, service },
    resume_state: { run, kind },
    created_at: new Date().toISOString(),
    ...extra,
  };
}

async function ask(request, { raw } = {}) {
  return publish(names.requests, request?.kind || 'approval', raw ?? request, {
    type: 'hitl.request',
    messageId: request.id,
    correlationId: request.id,
  });
}

const ALICE = { id: 'alice@example.com', display_name: 'Alice' };

async function answer(interactionId, action, data, { responder = ALICE, correlate = true, group = 'round trips', raw } = {}) {
  const response = {
    schema_version: 1,
    interaction_id: interactionId,
    response_id: randomUUID(),
    action,
    ...(data === undefined ? {} : { data }),
    responder,
    channel: 'conformance',
    responded_at: new Date().toISOString(),
  };
  if (raw === undefined) {
    check(group, validateResponse(response), {
      message: `answer ${action} to ${interactionId}`, field: 'body (human-response.schema.json)', got: response,
      doc: `schemas/json/human-response.schema.json refuses an answer taken from ${KINDS}: ${schemaErrors(validateResponse)}`,
    });
  }
  const correlationId = correlate ? `conformance:${response.response_id}` : undefined;
  await publish(names.responses, interactionId, raw ?? response, {
    type: 'hitl.response',
    messageId: response.response_id,
    ...(correlationId ? { correlationId } : {}),
    replyTo: queues.receipts,
  });
  return { response, correlationId: correlationId ?? response.response_id };
}

// The first receipt for this correlation id whose result is not `held` (an early answer waits).
const finalReceipt = (correlationId, ms) => waitFor(() =>
  (receipts.get(correlationId) || []).find((r) => r.body?.result !== 'held'), ms);

// ---------------------------------------------------------------------------------------------
// Comparisons

/** Where `actual` does not contain `expected` (objects: every expected key; the rest exactly). */
function mismatch(actual, expected, where) {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return where;
    for (const [key, value] of Object.entries(expected)) {
      const bad = mismatch(actual[key], value, `${where}.${key}`);
      if (bad) return bad;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return where;
    for (const [n, value] of expected.entries()) {
      const bad = mismatch(actual[n], value, `${where}.${n}`);
      if (bad) return bad;
    }
    return null;
  }
  return isDeepStrictEqual(actual, expected) ? null : where;
}
const at = (object, path) => path.split('.').slice(1).reduce((o, k) => (o == null ? o : o[k]), object);

// ---------------------------------------------------------------------------------------------
// The cases: the worked examples of docs/kinds.md, and the requests of docs/contract.md

const CASES = [
  {
    name: 'approval', kind: 'approval',
    fields: {
      prompt: 'Please review and approve this budget proposal.',
      context: { proposal_amount: 50000, department: 'Engineering', quarter: 'Q1 2024' },
      node_name: 'approve_budget', labels: { team: 'finance' },
      timeout_seconds: 3600, on_timeout: { action: 'reject', data: { reason: 'nobody answered' } },
    },
    answers: [
      { action: 'approve', data: { reasn: 'typo' }, result: 'rejected', error: { code: 'invalid_response', path: 'data.reasn', allowed: ['reason'] } },
      { action: 'reject', data: { reason: 'Budget exceeds allocated amount' } },
    ],
    outcome: { status: 'resolved', action: 'reject', data: { reason: 'Budget exceeds allocated amount' } },
    late: true, // answered again once resolved: already_resolved
  },
  {
    name: 'choice', kind: 'choice',
    fields: {
      prompt: 'Select the deployment environment for this application:',
      options: ['Production (us-east-1)', 'Staging (us-west-2)', 'Development (local)', 'Cancel deployment'],
    },
    answers: [
      // The answer that does not fit: a choice out of range.
      { action: 'choose', data: { choice: 9 }, result: 'rejected', error: { code: 'invalid_response', path: 'data.choice', got: 9 } },
      { action: 'choose', data: { choice: 2, justification: 'Staging first for additional testing due to payment system criticality' } },
    ],
    outcome: {
      status: 'resolved', action: 'choose',
      data: { choice: 2, value: 'Staging (us-west-2)', justification: 'Staging first for additional testing due to payment system criticality' },
    },
  },
  {
    name: 'choice (multiple, other)', kind: 'choice',
    fields: {
      prompt: 'Which regions should get the canary?', options: ['eu-west-1', 'us-east-1', 'ap-south-1'],
      multiple: true, min_selections: 1, max_selections: 2, allow_other: true,
    },
    answers: [
      { action: 'choose', data: { choices: [1, 2, 3] }, result: 'rejected', error: { path: 'data.choices' } },
      { action: 'choose', data: { choices: ['eu-west-1'], other: 'eu-central-2 (new)' } },
    ],
    outcome: { status: 'resolved', action: 'choose', data: { choices: [1], values: ['eu-west-1'], other: 'eu-central-2 (new)' } },
  },
  {
    name: 'text_input', kind: 'text_input',
    fields: { prompt: 'Please provide additional requirements for this feature:', context: { feature_name: 'User Authentication' } },
    answers: [
      { action: 'respond', data: { response: 'Additional security requirements needed', requirements: ['Social login integration', 'Rate limiting'], priority: 'high' } },
    ],
    outcome: {
      status: 'resolved', action: 'respond',
      data: { text: 'Additional security requirements needed', requirements: ['Social login integration', 'Rate limiting'], priority: 'high' },
    },
  },
  {
    name: 'text_input (fields)', kind: 'text_input',
    fields: { prompt: 'Describe the incident.', fields: [{ name: 'summary', max_length: 80 }, { name: 'impact', required: false }] },
    answers: [
      { action: 'respond', data: { impact: 'none' }, result: 'rejected', error: { path: 'data.summary' } },
      { action: 'respond', data: { summary: 'Checkout latency spike' } },
    ],
    outcome: { status: 'resolved', action: 'respond', data: { summary: 'Checkout latency spike' } },
  },
  {
    name: 'edit', kind: 'edit',
    fields: {
      prompt: 'Please review and edit this generated content.',
      content: 'The system has detected an anomaly in the data processing pipeline...', content_type: 'alert_message',
    },
    answers: [
      { action: 'edit', data: { changes: ['x'] }, result: 'rejected', error: { path: 'data.edited' } },
      { action: 'edit', data: { edited: 'The data processing pipeline has detected an anomaly that requires immediate attention...', changes: ['Added urgency indicator', 'Clarified technical details'] } },
    ],
    outcome: {
      status: 'resolved', action: 'edit',
      data: { edited: 'The data processing pipeline has detected an anomaly that requires immediate attention...', changes: ['Added urgency indicator', 'Clarified technical details'] },
    },
  },
  {
    name: 'conversation', kind: 'conversation',
    fields: {
      prompt: 'What are your thoughts on the proposed microservices approach?',
      transcript: [{ role: 'agent', text: "Let's discuss the architecture." }, { role: 'human', text: 'Sure.' }],
    },
    answers: [
      { action: 'respond', data: {}, result: 'rejected', error: { path: 'data.message' } },
      { action: 'respond', data: { message: 'Start with user management, product catalog and order processing.', follow_up_questions: ['What database strategy should we use?'] } },
    ],
    outcome: {
      status: 'resolved', action: 'respond',
      data: { message: 'Start with user management, product catalog and order processing.', follow_up_questions: ['What database strategy should we use?'], continue: true },
    },
  },
  {
    name: 'form', kind: 'form',
    fields: {
      prompt: 'Register the new service.',
      fields: [
        { name: 'service', type: 'string', required: true, max_length: 64 },
        { name: 'replicas', type: 'integer', minimum: 1, maximum: 20, default: 2 },
        { name: 'tier', type: 'enum', options: ['gold', 'silver'], required: true },
        { name: 'public', type: 'boolean' },
        { name: 'launch', type: 'date' },
      ],
    },
    answers: [
      { action: 'submit', data: { answers: { replicas: 50, tier: 'bronze', launch: 'soon' } }, result: 'rejected', error: { path: 'data.answers.service' } },
      { action: 'submit', data: { answers: { service: 'payments', tier: 'gold', public: false, launch: '2026-12-01' } } },
    ],
    outcome: {
      status: 'resolved', action: 'submit',
      data: { answers: { service: 'payments', replicas: 2, tier: 'gold', public: false, launch: '2026-12-01' } },
    },
  },
  {
    name: 'clarify (questions)', kind: 'clarify',
    fields: {
      prompt: 'A few questions before I start.',
      questions: [
        { key: 'level', question: 'What level of detail should this skill cover?', options: ['beginner', 'intermediate', 'advanced'], rationale: 'Need to understand target audience' },
        { question: 'Any topic to leave out?' },
      ],
      rationale: 'Resolve ambiguities before generating',
    },
    answers: [
      { action: 'answer', data: { answers: { level: 2 } }, result: 'rejected', error: { path: 'data.answers.2' } },
      { action: 'answer', data: { answers: { level: 2, 2: 'Skip the history of asyncio' } } },
    ],
    outcome: { status: 'resolved', action: 'answer', data: { answers: { level: 'intermediate', 2: 'Skip the history of asyncio' } } },
  },
  {
    // docs/contract.md: "`questions` (or a markdown numbered list)"; docs/kinds.md's second example.
    name: 'clarify (markdown questions)', kind: 'clarify',
    fields: { prompt: 'Questions:', questions: '1. What level of detail?\n2. Include exercises?' },
    // "a single markdown numbered list is split into questions" (docs/kinds.md)
    notifiedAs: { questions: [{ question: 'What level of detail?' }, { question: 'Include exercises?' }] },
    answers: [{ action: 'proceed', data: { answers: { response: 'Intermediate, with exercises' } } }],
    outcome: { status: 'resolved', action: 'proceed', data: { answers: { response: 'Intermediate, with exercises' } } },
  },
  {
    name: 'confirmation', kind: 'confirmation',
    fields: {
      prompt: 'Proceed?', summary: 'Skill: Python async programming\nTarget: Intermediate developers',
      path: 'technical_skills/python/async', key_assumptions: ['Users know basic Python syntax'], confidence: 0.85,
    },
    answers: [
      { action: 'revise', data: {}, result: 'rejected', error: { path: 'data.feedback' } },
      { action: 'revise', data: { feedback: 'Make it more advanced, targeting expert developers' } },
    ],
    outcome: { status: 'resolved', action: 'revise', data: { feedback: 'Make it more advanced, targeting expert developers' } },
  },
  {
    name: 'preview', kind: 'preview',
    fields: {
      prompt: 'Looks good?', content: '## Overview\nPython async/await provides...',
      highlights: ['Clear explanations of async/await'], potential_issues: ['Could add more error handling examples'],
    },
    answers: [{ action: 'refine', data: { feedback: 'Add more error handling examples and a troubleshooting section' } }],
    outcome: { status: 'resolved', action: 'refine', data: { feedback: 'Add more error handling examples and a troubleshooting section' } },
  },
  {
    name: 'validation', kind: 'validation',
    fields: {
      prompt: 'Accept?', report: 'Status: PASSED\n\nAll checks passed', passed: true, validation_score: 0.95,
      saved_path: '/skills/technical_skills/python/async',
    },
    answers: [{ action: 'proceed' }],
    outcome: { status: 'resolved', action: 'proceed', data: {} },
  },
  {
    name: 'batch', kind: 'batch',
    fields: {
      prompt: 'Please review this batch of refunds:',
      items: [{ id: 'r-1', title: 'Refund 20 EUR' }, { id: 'r-2', title: 'Refund 900 EUR' }, { id: 'r-3', title: 'Refund 15 EUR' }],
    },
    answers: [
      { action: 'decide', data: { decisions: { 'r-1': 'approve' } }, result: 'rejected', error: { path: 'data.decisions.r-2' } },
      { action: 'decide', data: { all: 'approve', decisions: { 'r-2': 'reject' }, notes: { 'r-2': 'Needs a manager' } } },
    ],
    outcome: {
      status: 'resolved', action: 'decide',
      data: { decisions: { 'r-1': 'approve', 'r-2': 'reject', 'r-3': 'approve' }, notes: { 'r-2': 'Needs a manager' } },
    },
  },
  {
    name: 'form (best judgement)', kind: 'form',
    fields: { prompt: 'Fill in the details.', fields: [{ name: 'reason', type: 'text', required: true }] },
    answers: [{ action: 'best_judgement', data: { note: 'You know the context better' } }],
    outcome: { status: 'resolved', action: 'best_judgement', data: { note: 'You know the context better' } },
  },
  {
    // docs/contract.md, Cancelling: the requester answers `cancel` itself.
    name: 'approval (cancelled by the requester)', kind: 'approval',
    fields: { prompt: 'Deploy on Friday evening?' },
    answers: [{ action: 'cancel', data: { reason: 'Not this week' }, responder: { id: service } }],
    outcome: { status: 'cancelled', action: 'cancel', data: { reason: 'Not this week' }, decided_by: { type: 'requester' } },
  },
  {
    name: 'confirmation (auto_approve)', kind: 'confirmation',
    fields: { prompt: 'Proceed?', summary: 'Regenerate the docs index', auto_approve: true },
    answers: [],
    notified: false,
    outcome: { status: 'resolved', action: 'proceed', decided_by: { type: 'policy', policy: 'request' } },
  },
  {
    // docs/contract.md: "with timeout_seconds, the outcome after that many seconds is on_timeout".
    name: 'approval (timed out)', kind: 'approval',
    fields: { prompt: 'Rotate the API keys tonight?', timeout_seconds: 1, on_timeout: { action: 'reject', data: { reason: 'nobody answered' } } },
    answers: [],
    outcome: { status: 'timed_out', action: 'reject', data: { reason: 'nobody answered' }, decided_by: { type: 'timeout' } },
  },
];

const TERMINAL_EVENT = { resolved: 'resolved', cancelled: 'cancelled', timed_out: 'timed_out' };
const flows = []; // {name, request, outcome, refusedAnswers: [{response, receipt}]}

async function roundTrip(c) {
  const group = 'round trips';
  const request = requestOf(c.kind, c.fields);
  const label = `${c.name} request ${request.id}`;
  const flow = { name: c.name, request, outcome: null, refused: [] };
  flows.push(flow);
  check('requests the schema accepts', validateRequest(request), {
    message: label, field: 'body (interaction-request.schema.json)', got: request,
    doc: `the request is documented (${CONTRACT} kinds table, ${KINDS}), but the schema refuses it: ${kindErrors(request)}` +
         ' (a client that validates before sending would refuse what the broker takes)',
  });
  await ask(request);
  if (c.notified !== false) {
    const note = await waitFor(() => notifications.get(request.id)?.[0]);
    if (!check(group, note, { message: label, field: 'notification', got: undefined, doc: `${CONTRACT}: notifier bots get each request as a Notification on ${names.notifications}` })) return;
    const n = note.body;
    const bad = mismatch(n, { reason: 'requested', attempt: 1, request: { ...c.fields, ...c.notifiedAs } }, 'notification');
    check(group, !bad, {
      message: `notification of ${label}`, field: bad, got: bad && at(n, bad),
      doc: `${CONTRACT}: the Notification's request is the request asked (reason requested, attempt 1)`,
    });
  }
  for (const a of c.answers) {
    const { response, correlationId } = await answer(request.id, a.action, a.data, { responder: a.responder });
    const what = `receipt for ${c.name} answer ${a.action} ${show(a.data)}`;
    const receipt = await finalReceipt(correlationId);
    if (!check(group, receipt, { message: what, field: 'receipt', got: undefined, doc: `${CONTRACT}: "the broker sends a ResponseReceipt there" (the AMQP reply_to)` })) return;
    const expected = {
      interaction_id: request.id, response_id: response.response_id, result: a.result || 'accepted',
      ...(a.error ? { error: a.error } : {}),
    };
    const bad = mismatch(receipt.body, expected, 'receipt');
    check(a.result === 'rejected' ? 'bad answers' : group, !bad, {
      message: what, field: bad, got: bad && at(receipt.body, bad),
      doc: `${KINDS} (${c.name}): expected ${show(bad && at(expected, bad))}`,
    });
    if (a.result === 'rejected') flow.refused.push({ response, receipt });
  }
  const got = await waitFor(() => outcomes.get(request.id)?.[0], c.outcome.status === 'timed_out' ? 20000 : 15000);
  if (!check(group, got, { message: label, field: 'outcome', got: undefined, doc: `${CONTRACT}: "There is exactly one outcome per interaction", on ${names.reply}` })) return;
  flow.outcome = got.body;
  const last = c.answers[c.answers.length - 1];
  const expected = {
    interaction_id: request.id, thread_id: request.thread_id, kind: c.kind, resume_state: request.resume_state,
    ...c.outcome,
    decided_by: last ? { type: last.responder ? 'requester' : 'person', ...(last.responder ? {} : { identity: { id: ALICE.id } }), ...(c.outcome.decided_by || {}) } : c.outcome.decided_by,
  };
  const bad = mismatch(got.body, expected, 'outcome');
  check(group, !bad, {
    message: `outcome of ${label}`, field: bad, got: bad && at(got.body, bad),
    doc: `${KINDS} (${c.name}) and ${CONTRACT} "The outcome": expected ${show(bad && at(expected, bad))}`,
  });
  if (c.late) {
    // An answer after the decision: already_resolved, with the recorded outcome. No correlation_id,
    // so the receipt's is the response id.
    const { response, correlationId } = await answer(request.id, 'approve', { reason: 'too late' }, { correlate: false, group: 'bad answers' });
    const receipt = await finalReceipt(correlationId);
    const what = `receipt for a late answer to ${label} (sent without correlation_id)`;
    if (check('bad answers', receipt, { message: what, field: 'receipt', got: undefined, doc: `${CONTRACT}: "the broker sends a ResponseReceipt there, with your correlation_id (or the response id when you sent none)"` })) {
      const exp = { interaction_id: request.id, response_id: response.response_id, result: 'already_resolved', outcome: got.body };
      const wrong = mismatch(receipt.body, exp, 'receipt');
      check('bad answers', !wrong, {
        message: what, field: wrong, got: wrong && at(receipt.body, wrong),
        doc: `${CONTRACT}: "later ones get already_resolved" "(with the recorded outcome)"`,
      });
    }
  }
}

// Requests the broker must refuse, and whether the schema can tell.
const BAD_REQUESTS = [
  {
    // "got ... null when ... the body is not JSON"
    name: 'malformed JSON', code: 'malformed_json', path: '', got: null, schema: 'not JSON',
    raw: Buffer.from('{"schema_version": 1, "kind": "approval", "prompt": "Pay?", '),
  },
  {
    name: 'unknown kind', code: 'unknown_kind', path: 'kind', schema: 'refuses', allowedKinds: true,
    build: () => ({ ...requestOf('approval', { prompt: 'Take a poll?' }), kind: 'poll' }),
  },
  {
    name: 'unsupported schema_version', code: 'unsupported_schema_version', path: 'schema_version', schema: 'refuses',
    build: () => requestOf('approval', { prompt: 'From the future?' }, { schema_version: 2 }),
  },
  { name: 'approval without prompt', code: 'invalid_field', path: 'prompt', schema: 'refuses', got: null, build: () => requestOf('approval', {}) },
  { name: 'choice without options', code: 'invalid_field', path: 'options', schema: 'refuses', got: null, build: () => requestOf('choice', { prompt: 'Which one?' }) },
  { name: 'confirmation without summary', code: 'invalid_field', path: 'summary', schema: 'refuses', got: null, build: () => requestOf('confirmation', { prompt: 'Proceed?' }) },
  { name: 'form without fields', code: 'invalid_field', path: 'fields', schema: 'refuses', got: null, build: () => requestOf('form', { prompt: 'Register the new service.' }) },
  {
    // "on_timeout.action must be timeout or an action of the kind": choose is not an approval's.
    name: 'approval with on_timeout action choose', code: 'invalid_field', path: 'on_timeout.action', schema: 'may tell', got: 'choose',
    allowedIncludes: ['timeout', 'approve', 'reject'],
    build: () => requestOf('approval', { prompt: 'Ship it?', timeout_seconds: 600, on_timeout: { action: 'choose' } }),
  },
];

const refusedRequests = []; // {name, id, messageId, content, routingKey, bad}

async function badRequest(bad) {
  const request = bad.build ? bad.build() : { id: randomUUID(), kind: 'approval' };
  const label = `bad request "${bad.name}" (message_id ${request.id})`;
  // The client's own verdict, before sending.
  let verdict;
  if (bad.raw) {
    try {
      JSON.parse(bad.raw.toString('utf8'));
      verdict = 'accepts';
    } catch {
      verdict = 'refuses';
    }
  } else {
    verdict = validateRequest(request) ? 'accepts' : 'refuses';
  }
  if (bad.schema === 'may tell') {
    notes.push(`${bad.name}: ${verdict === 'refuses' ? 'ajv refuses it too' : 'the schema cannot tell (ajv accepts it); only the broker refuses it'}`);
  } else {
    check('bad requests', verdict === 'refuses', {
      message: label, field: 'ajv verdict', got: verdict,
      doc: `the broker must refuse it (${bad.code}) and the schema can tell: ajv should refuse it too`,
    });
  }
  if (bad.got === null && bad.schema === 'refuses') {
    // A missing required field: ajv names the same field as the broker must.
    const validate = kindSchema(request.kind);
    validate(request);
    const missing = (validate.errors || []).filter((e) => e.keyword === 'required').map((e) => e.params.missingProperty);
    check('bad requests', isDeepStrictEqual(missing, [bad.path]), {
      message: label, field: `ajv required errors (${request.kind})`, got: missing,
      doc: `schemas/json/interaction-request.schema.json should require ${bad.path} for ${request.kind}`,
    });
  }
  const content = await ask(request, { raw: bad.raw });
  refusedRequests.push({ ...bad, id: request.id, messageId: request.id, content, routingKey: request.kind || 'approval', request });
}

// id_conflict: the same id with other content, once the first request is in.
async function conflictingRequest() {
  const first = requestOf('approval', { prompt: 'Order 10 laptops?' });
  await ask(first);
  const note = await waitFor(() => notifications.get(first.id)?.[0]);
  check('bad requests', note, { message: `request ${first.id} (asked before its conflicting twin)`, field: 'notification', got: undefined, doc: `${CONTRACT}: a valid request is notified` });
  // "A republished request with the same id and the same content is a no-op".
  await ask(first);
  const second = { ...first, prompt: 'Order 100 laptops?' };
  check('bad requests', validateRequest(second), { message: 'id_conflict twin', field: 'ajv verdict', got: 'refuses', doc: 'a well-formed request (only its id is reused)' });
  notes.push('same id, other content: the schema cannot tell (ajv accepts); only the broker refuses it (id_conflict)');
  // The twin has the same message id as the first, so it gets its own (the body's id is what counts).
  const messageId = `${first.id}:twin`;
  ours.add(messageId);
  const content = await publish(names.requests, 'approval', second, { type: 'hitl.request', messageId, correlationId: first.id });
  refusedRequests.push({ name: 'same id, other content', code: 'id_conflict', id: first.id, messageId, content, routingKey: 'approval', request: second, interactionExists: true });
  // Then withdraw the first, so nothing is left pending.
  const { correlationId } = await answer(first.id, 'cancel', { reason: 'conformance run over' }, { responder: { id: service } });
  await finalReceipt(correlationId, 5000);
  republished.push(first.id);
}
const republished = []; // ids asked twice with the same content: one interaction each

function checkRepublished() {
  for (const id of republished) {
    const label = `request ${id}, published twice with the same content`;
    check('bad requests', (notifications.get(id) || []).length === 1 && !deadLetters.has(id), {
      message: label, field: 'notifications / dead letters',
      got: `${(notifications.get(id) || []).length} notifications, ${(deadLetters.get(id) || []).length} dead letters`,
      doc: `${CONTRACT}: "A republished request with the same id and the same content is a no-op"`,
    });
    check('bad requests', (outcomes.get(id) || []).length === 1, {
      message: label, field: 'outcomes', got: (outcomes.get(id) || []).length,
      doc: `${CONTRACT}: "There is exactly one outcome per interaction"`,
    });
  }
}

async function checkRefusedRequest(bad) {
  const group = 'bad requests';
  const label = `bad request "${bad.name}" (message_id ${bad.messageId})`;
  const dead = await waitFor(() => deadLetters.get(bad.messageId)?.[0]);
  if (check(group, dead, { message: label, field: 'dead letter', got: undefined, doc: `${CONTRACT}: "A message hitl cannot use ... is published to the exchange ${names.dlx} (queue ${names.deadLetter})"` })) {
    const h = dead.properties.headers || {};
    const expectations = [
      ['routing key', dead.fields.routingKey, 'requests', `${CONTRACT}: routing key requests`],
      ['x-hitl-error-code', h['x-hitl-error-code'], bad.code, `${CONTRACT}, error codes`],
      ['x-hitl-source', h['x-hitl-source'], 'requests', `${CONTRACT}: "the stage that refused it"`],
      ['x-original-exchange', h['x-original-exchange'], names.requests, `${CONTRACT}: "the exchange it was first published to"`],
      ['x-original-routing-key', h['x-original-routing-key'], bad.routingKey, `${CONTRACT}: "its routing key there"`],
      ['body', dead.content.toString('utf8'), bad.content.toString('utf8'), `${CONTRACT}: "with the original body and properties"`],
    ];
    if (bad.path !== undefined) {
      expectations.push(['x-hitl-error-path', h['x-hitl-error-path'], bad.path, `${CONTRACT}: "where in the message, e.g. options[2] ('' for the whole)"`]);
    }
    if (bad.got !== undefined) {
      expectations.push(['x-hitl-error-got', h['x-hitl-error-got'], JSON.stringify(bad.got), `${CONTRACT}: "JSON text: what was sent there (truncated), or null"`]);
    }
    for (const [field, actual, expected, doc] of expectations) {
      check(group, actual === expected, { message: `dead letter of ${label}`, field, got: actual, doc: `${doc}: expected ${show(expected)}` });
    }
    if (bad.allowedKinds) {
      let allowed;
      try { allowed = JSON.parse(h['x-hitl-error-allowed']); } catch { allowed = undefined; }
      check(group, Array.isArray(allowed) && isDeepStrictEqual([...allowed].sort(), KIND_NAMES), {
        message: `dead letter of ${label}`, field: 'x-hitl-error-allowed', got: h['x-hitl-error-allowed'],
        doc: `${CONTRACT}: "the values that would have been valid": the kinds, ${show(KIND_NAMES)}`,
      });
    }
    if (bad.allowedIncludes) {
      let allowed;
      try { allowed = JSON.parse(h['x-hitl-error-allowed']); } catch { allowed = undefined; }
      check(group, Array.isArray(allowed) && bad.allowedIncludes.every((a) => allowed.includes(a)), {
        message: `dead letter of ${label}`, field: 'x-hitl-error-allowed', got: h['x-hitl-error-allowed'],
        doc: `${CONTRACT}: "on_timeout.action must be timeout or an action of the kind": allowed lists ${show(bad.allowedIncludes)}`,
      });
    }
  }
  // A rejected event from the requests stage, with the same error.
  const eventId = `rejected:requests:${bad.messageId}`;
  const rejected = await waitFor(() => events.find(({ event }) => event.event_id === eventId), 5000);
  if (check(group, rejected, {
    message: label, field: 'rejected event', got: undefined,
    doc: `${CONTRACT}: "rejected (a refused message: its error says why, source says from where)", event_id ${eventId} ("key is the refused message's message_id")`,
  }) && dead) {
    check(group, bad.raw || rejected.event.interaction_id === bad.id, {
      message: `rejected event of ${label}`, field: 'interaction_id', got: rejected.event.interaction_id,
      doc: `${CONTRACT}: "a rejected event names the interaction, thread and kind of the refused message when they can be read from it"`,
    });
    const h = dead.properties.headers || {};
    check(group, rejected.event.error?.code === h['x-hitl-error-code'] && (rejected.event.error?.path ?? '') === (h['x-hitl-error-path'] ?? ''), {
      message: `rejected event of ${label}`, field: 'error.code, error.path', got: rejected.event.error,
      doc: `the event's error should say what the dead letter's headers say (${h['x-hitl-error-code']}, ${show(h['x-hitl-error-path'])})`,
    });
  }
  if (!bad.interactionExists && !bad.raw) {
    check(group, !notifications.has(bad.id) && !outcomes.has(bad.id), {
      message: label, field: 'notification / outcome', got: 'the refused request was notified or resolved',
      doc: `${CONTRACT}: a refused request is dead-lettered, not asked`,
    });
  }
}

// Answers the broker must refuse without a person: unknown interaction, unreadable body.
async function badAnswers() {
  const group = 'bad answers';
  const nobody = randomUUID();
  const { response, correlationId } = await answer(nobody, 'approve', { reason: 'who asked?' }, { group });
  const label = `answer ${response.response_id} to an unknown interaction ${nobody}`;
  // An answer may be held for its request (HITL_EARLY_ANSWER_HOLD_SECONDS) before it is refused.
  const receipt = await finalReceipt(correlationId, remaining());
  if (check(group, receipt, { message: label, field: 'receipt', got: undefined, doc: `${CONTRACT}: result unknown_interaction` })) {
    check(group, receipt.body.result === 'unknown_interaction' && receipt.body.interaction_id === nobody, {
      message: `receipt for ${label}`, field: 'result', got: receipt.body.result,
      doc: `${CONTRACT}: "result is ... unknown_interaction"`,
    });
    check(group, receipt.properties.correlationId === correlationId, {
      message: `receipt for ${label}`, field: 'correlation_id', got: receipt.properties.correlationId,
      doc: `${CONTRACT}: "with your correlation_id"`,
    });
  }
  const dead = await waitFor(() => deadLetters.get(response.response_id)?.[0], 5000);
  if (check(group, dead, { message: label, field: 'dead letter', got: undefined, doc: `${CONTRACT}: "answer to an unknown interaction" is published to ${names.dlx}` })) {
    const h = dead.properties.headers || {};
    for (const [field, actual, expected] of [
      ['routing key', dead.fields.routingKey, 'responses'],
      ['x-hitl-error-code', h['x-hitl-error-code'], 'unknown_interaction'],
      ['x-hitl-source', h['x-hitl-source'], 'responses'],
      ['x-original-exchange', h['x-original-exchange'], names.responses],
      ['x-original-routing-key', h['x-original-routing-key'], nobody],
      ['body', dead.content.toString('utf8'), JSON.stringify(response)],
    ]) {
      check(group, actual === expected, { message: `dead letter of ${label}`, field, got: actual, doc: `${CONTRACT}, dead letters: expected ${show(expected)}` });
    }
  }
  const eventId = `rejected:responses:${response.response_id}`;
  const event = await waitFor(() => events.find(({ event: e }) => e.event_id === eventId), 5000);
  check(group, event && event.event.error?.code === 'unknown_interaction' && event.event.source === 'responses', {
    message: label, field: 'rejected event', got: event?.event,
    doc: `${CONTRACT}: a rejected event ${eventId} (error unknown_interaction, source responses)`,
  });

  // An answer that is not JSON.
  const id = randomUUID();
  const raw = Buffer.from('{"interaction_id": "');
  const messageId = (await answer(id, 'approve', undefined, { raw, group })).response.response_id;
  const unreadable = `an answer that is not JSON (message_id ${messageId})`;
  const deadRaw = await waitFor(() => deadLetters.get(messageId)?.[0], 10000);
  if (check(group, deadRaw, { message: unreadable, field: 'dead letter', got: undefined, doc: `${CONTRACT}: "bad JSON" is published to ${names.dlx}` })) {
    const h = deadRaw.properties.headers || {};
    for (const [field, actual, expected] of [
      ['routing key', deadRaw.fields.routingKey, 'responses'],
      ['x-hitl-error-code', h['x-hitl-error-code'], 'malformed_json'],
      ['x-hitl-error-path', h['x-hitl-error-path'], ''],
      ['x-hitl-source', h['x-hitl-source'], 'responses'],
      ['body', deadRaw.content.toString('utf8'), raw.toString('utf8')],
    ]) {
      check(group, actual === expected, { message: `dead letter of ${unreadable}`, field, got: actual, doc: `${CONTRACT}, dead letters: expected ${show(expected)}` });
    }
  }
  const unreadableEvent = await waitFor(() => events.find(({ event: e }) => e.event_id === `rejected:responses:${messageId}`), 5000);
  check(group, unreadableEvent && unreadableEvent.event.error?.code === 'malformed_json', {
    message: unreadable, field: 'rejected event', got: unreadableEvent?.event,
    doc: `${CONTRACT}: a rejected event rejected:responses:${messageId} (error malformed_json)`,
  });
}

// An outcome no queue was bound to receive.
async function unroutableOutcome() {
  const group = 'bad requests';
  const request = requestOf('approval', { prompt: 'Restart the cache?' }, { reply_to: `${service}.nobody-listens` });
  check('requests the schema accepts', validateRequest(request), { message: `request ${request.id}`, field: 'body', got: request, doc: schemaErrors(validateRequest) });
  ours.add(`outcome:${request.id}`);
  await ask(request);
  await waitFor(() => notifications.get(request.id)?.[0]);
  const { correlationId } = await answer(request.id, 'approve', { reason: 'fine' });
  await finalReceipt(correlationId, 5000);
  const label = `outcome of ${request.id} (reply_to ${request.reply_to}, bound by no queue)`;
  const dead = await waitFor(() => deadLetters.get(`outcome:${request.id}`)?.[0]);
  if (check(group, dead, { message: label, field: 'dead letter', got: undefined, doc: `${CONTRACT}: "an outcome no queue was bound to receive, is published to the exchange ${names.dlx}"` })) {
    const h = dead.properties.headers || {};
    for (const [field, actual, expected] of [
      ['routing key', dead.fields.routingKey, 'unroutable'],
      ['x-hitl-error-code', h['x-hitl-error-code'], 'unroutable'],
      ['x-original-exchange', h['x-original-exchange'], names.outcomes],
      ['x-original-routing-key', h['x-original-routing-key'], request.reply_to],
      ['x-hitl-source', h['x-hitl-source'], 'unroutable'],
      ['x-hitl-error-path', h['x-hitl-error-path'], 'reply_to'],
      ['x-hitl-error-got', h['x-hitl-error-got'], JSON.stringify(request.reply_to)],
      ['type', dead.properties.type, 'hitl.outcome'],
      ['correlation_id', dead.properties.correlationId, request.id],
    ]) {
      check(group, actual === expected, {
        message: `dead letter of ${label}`, field, got: actual,
        doc: `${CONTRACT}, dead letters ("For an unroutable outcome the path is reply_to and got its routing key"): expected ${show(expected)}`,
      });
    }
    let body;
    try { body = JSON.parse(dead.content.toString('utf8')); } catch { body = undefined; }
    const validate = validator('interaction-outcome.schema.json');
    check('schemas of received messages', body && validate(body) && body.interaction_id === request.id, {
      message: `dead letter of ${label}`, field: 'body (interaction-outcome.schema.json)', got: body,
      doc: `${CONTRACT}: "with the original body": the outcome. ${schemaErrors(validate)}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle events of the interactions asked

async function checkLifecycles() {
  const group = 'lifecycle events';
  for (const flow of flows.filter((f) => f.outcome)) {
    const id = flow.request.id;
    const terminal = TERMINAL_EVENT[flow.outcome.status];
    const wanted = ['requested', ...(flow.name.includes('auto_approve') ? [] : ['notified']), terminal];
    const mine = () => events.filter(({ event }) => event.interaction_id === id);
    await waitFor(() => wanted.every((name) => mine().some(({ event }) => event.event === name)) &&
      flow.refused.every(({ response }) => mine().some(({ event }) => event.event === 'rejected' && event.response_id === response.response_id)), 5000);
    const seen = mine();
    for (const name of wanted) {
      check(group, seen.some(({ event }) => event.event === name), {
        message: `${flow.name} interaction ${id}`, field: `${name} event`, got: seen.map(({ event }) => event.event),
        doc: `${CONTRACT}: "The broker records every step of every interaction as a LifecycleEvent"`,
      });
    }
    const end = seen.find(({ event }) => event.event === terminal);
    if (end && end.event.outcome) {
      check(group, isDeepStrictEqual(end.event.outcome, flow.outcome), {
        message: `${terminal} event of ${flow.name} ${id}`, field: 'outcome', got: end.event.outcome,
        doc: `the ${terminal} event's outcome should be the outcome published (${show(flow.outcome)})`,
      });
    }
    for (const { response, receipt } of flow.refused) {
      const event = seen.find(({ event: e }) => e.event === 'rejected' && e.response_id === response.response_id);
      check(group, event && event.event.source === 'responses' && isDeepStrictEqual(event.event.error, receipt.body.error), {
        message: `${flow.name} answer ${response.response_id} (refused: ${receipt.body.error?.code})`, field: 'rejected event', got: event?.event,
        doc: `${CONTRACT}: "rejected (a refused message: its error says why, source says from where)", the receipt's error`,
      });
      const idPattern = new RegExp(`^rejected:responses:${response.response_id}:\\d+$`);
      check(group, event && idPattern.test(event.event.event_id), {
        message: `${flow.name} answer ${response.response_id} (refused: ${receipt.body.error?.code})`, field: 'event_id', got: event?.event.event_id,
        doc: `${CONTRACT}: "<response_id>:<version> for an answer refused by its interaction" (rejected:responses:${response.response_id}:<version>)`,
      });
    }
    // "The events of one interaction are published in order": versions never go back.
    const versions = seen.map(({ version }) => version).filter((v) => v !== null);
    check(group, versions.every((v, n) => n === 0 || v >= versions[n - 1]), {
      message: `events of ${flow.name} ${id}`, field: 'event_id versions in arrival order', got: seen.map(({ event }) => event.event_id),
      doc: `${CONTRACT}: "The events of one interaction are published in order"`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Setup, the run, and cleanup

let connection;
let sub;
const queues = {};

async function setup() {
  connection = await amqp.connect(url);
  connection.on('error', () => {});
  pub = await connection.createConfirmChannel();
  pub.on('return', (message) => returned.add(message.properties.messageId));
  sub = await connection.createChannel();
  // The broker declares the exchanges; a client checks a broker that runs, and leaves nothing
  // behind in a namespace that has none. Asserting them then says they are durable topic
  // exchanges ("All exchanges are durable topic exchanges"): another type or durability would
  // be PRECONDITION_FAILED.
  const exchanges = [names.requests, names.responses, names.outcomes, names.notifications, names.events, names.dlx];
  const missing = [];
  for (const exchange of exchanges) {
    const probe = await connection.createChannel();
    probe.on('error', () => {});
    try {
      await probe.checkExchange(exchange);
      await probe.close();
    } catch {
      missing.push(exchange);
    }
  }
  if (missing.length) {
    throw new Error(`no ${missing.join(', ')}: is a broker running with HITL_NAMESPACE=${ns}?`);
  }
  for (const exchange of exchanges) {
    await pub.assertExchange(exchange, 'topic', { durable: true });
  }
  // 1. The durable reply queue, exactly as docs/contract.md declares it.
  await sub.assertQueue(names.reply, { durable: true, arguments: QUEUE_ARGUMENTS });
  await sub.bindQueue(names.reply, names.outcomes, service);
  queues.reply = names.reply;
  // 2. Everything the broker tells notifier bots and observers, and our receipts.
  for (const role of ['notifications', 'events']) {
    const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true });
    await sub.bindQueue(queue, names[role], '#');
    queues[role] = queue;
  }
  queues.receipts = (await sub.assertQueue('', { exclusive: true, autoDelete: true })).queue;
  // 3. The namespace's dead-letter queue (the broker declares it).
  const probe = await connection.createChannel();
  probe.on('error', () => {});
  let exists = true;
  let waiting = 0;
  try {
    waiting = (await probe.checkQueue(names.deadLetter)).messageCount;
    await probe.close();
  } catch (error) {
    exists = false;
    check('setup and publishing', false, { message: names.deadLetter, field: 'queue', got: error.message, doc: `${CONTRACT}: ${names.deadLetter} is bound to ${names.dlx}: is the broker running with HITL_NAMESPACE=${ns}?` });
  }
  check('setup and publishing', true, { message: 'topology' });
  for (const role of ['reply', 'notifications', 'events', 'receipts']) {
    await sub.consume(queues[role], (message) => message && receive(queues[role], message, sub));
  }
  if (exists && waiting > 0) {
    // Dead letters of others wait there for an operator: returning them would count against
    // x-delivery-limit, so read copies through a queue of our own on the same exchange.
    const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true });
    await sub.bindQueue(queue, names.dlx, '#');
    queues.deadLetter = queue;
    notes.push(`${names.deadLetter} held ${waiting} messages: dead letters were read through a queue bound to ${names.dlx}`);
  } else if (exists) {
    queues.deadLetter = names.deadLetter;
  }
  if (queues.deadLetter) {
    await sub.consume(queues.deadLetter, (message) => message && receive(queues.deadLetter, message, sub));
  }
}

async function cleanup() {
  try {
    const channel = await connection.createChannel();
    if (queues.reply) await channel.deleteQueue(names.reply);
    await channel.close();
    check('cleanup', true, { message: names.reply });
  } catch (error) {
    check('cleanup', false, { message: names.reply, field: 'queue.delete', got: error.message, doc: 'the client deletes what it declared' });
  }
  try {
    await connection.close();
  } catch {
    // already closed
  }
}

async function main() {
  // Every wait ends 3 s before the deadline; should anything else hang, stop there anyway.
  const hardStop = setTimeout(async () => {
    check('cleanup', false, {
      message: 'the run', field: 'time', got: `still running after ${budgetMs} ms`,
      doc: 'the client stops by itself within HITL_CONFORMANCE_SECONDS',
    });
    if (connection) await Promise.race([cleanup(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    console.log(report());
    process.exit(1);
  }, budgetMs);
  hardStop.unref();
  try {
    loadSchemas();
  } catch (error) {
    check('setup and publishing', false, {
      message: schemasDir, field: 'schemas', got: error.message,
      doc: 'schemas/json: one JSON Schema (draft 2020-12) per message',
    });
    console.log(report());
    process.exit(1);
  }
  try {
    await setup();
    await Promise.all([
      ...CASES.map((c) => roundTrip(c)),
      ...BAD_REQUESTS.map((b) => badRequest(b)),
      conflictingRequest(),
      badAnswers(),
      unroutableOutcome(),
    ]);
    await Promise.all(refusedRequests.map((b) => checkRefusedRequest(b)));
    await checkLifecycles();
    // Anything still arriving (stray notifications, duplicate outcomes) is checked too.
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, remaining())));
    checkRepublished();
    for (const [id, list] of outcomes) {
      const ids = new Set(list.map((r) => r.properties.messageId));
      check('round trips', ids.size === 1, {
        message: `outcomes of ${id}`, field: 'count', got: list.length,
        doc: `${CONTRACT}: "There is exactly one outcome per interaction" (redeliveries keep message_id)`,
      });
    }
    check('cleanup', Date.now() < deadline, { message: 'the run', field: 'time', got: `${Date.now() - started} ms`, doc: `finished within HITL_CONFORMANCE_SECONDS (${budgetMs / 1000} s)` });
  } catch (error) {
    check('setup and publishing', false, { message: 'the run', field: 'exception', got: error.stack || String(error), doc: 'the client ran to the end' });
  } finally {
    if (connection) await cleanup();
  }
  clearTimeout(hardStop);
  console.log(report());
  process.exitCode = violations.length ? 1 : 0;
}

main();
