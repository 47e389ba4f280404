// Requests are checked against schemas/json/interaction-request.schema.json before they are
// published, so a request the broker would refuse is an InvalidRequest naming the field here
// instead of a dead letter nobody sees. Outcomes are checked against the outcome schema, leniently
// (fields a newer broker adds are ignored, as docs/contract.md "Versions" asks of consumers).
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

import type { FieldError } from './errors.js';
import { InvalidRequest } from './errors.js';
import type { InteractionOutcome } from './generated/interaction-outcome.js';
import type { InteractionRequest } from './generated/interaction-request.js';
import { interactionOutcomeSchema, interactionRequestSchema, type JsonSchema } from './generated/schemas.js';

// strict: false: an annotation keyword a later schema adds must not break a running client.
const ajv = new Ajv2020({ allErrors: true, strict: false });
formats.default(ajv);
ajv.addKeyword({ keyword: 'discriminator' }); // OpenAPI's annotation; `kind` picks the schema below

const REQUEST_ID = String(interactionRequestSchema['$id']);
ajv.addSchema(interactionRequestSchema);

/** kind -> the $defs entry of its request schema, from the schema's own discriminator. */
const KIND_REFS: ReadonlyMap<string, string> = new Map(
  Object.entries((interactionRequestSchema['discriminator'] as { mapping: Record<string, string> }).mapping),
);
export const KINDS: readonly string[] = [...KIND_REFS.keys()].sort();

/** `/options/2` -> `options[2]`, `/on_timeout/action` -> `on_timeout.action` (the broker's form). */
function fieldPath(pointer: string, child?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function valueAt(data: unknown, pointer: string, child?: string): unknown {
  let at = data;
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  for (const part of parts) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

// Keywords that only say "a branch below failed": the branch's own error says what and where.
const WRAPPERS = new Set(['if', 'then', 'else', 'allOf', 'anyOf', 'oneOf']);

function fieldError(error: ErrorObject, data: unknown): FieldError {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const name = String(params['missingProperty']);
      return { path: fieldPath(error.instancePath, name), message: 'a required field is missing' };
    }
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      return {
        path: fieldPath(error.instancePath, name),
        message: 'is not a field of this request (unknown fields are refused)',
        got: valueAt(data, error.instancePath, name),
      };
    }
    default: {
      const allowed = error.keyword === 'enum' ? (params['allowedValues'] as unknown[])
        : error.keyword === 'const' ? [params['allowedValue']] : undefined;
      const found: FieldError = {
        path: fieldPath(error.instancePath),
        message: error.message ?? error.keyword,
        got: valueAt(data, error.instancePath),
      };
      return allowed ? { ...found, allowed } : found;
    }
  }
}

function errorsOf(validate: ValidateFunction, data: unknown): FieldError[] {
  const all = validate.errors ?? [];
  const leaves = all.filter((e) => !WRAPPERS.has(e.keyword));
  return (leaves.length ? leaves : all).map((e) => fieldError(e, data));
}

const requestValidators = new Map<string, ValidateFunction>();

/** The request if the contract accepts it; an InvalidRequest naming the field otherwise. */
export function checkRequest(request: unknown): InteractionRequest {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new InvalidRequest([{ path: '', message: 'a request is a JSON object', got: request }]);
  }
  const kind = (request as { kind?: unknown }).kind;
  const ref = typeof kind === 'string' ? KIND_REFS.get(kind) : undefined;
  if (ref === undefined) {
    throw new InvalidRequest([{
      path: 'kind',
      message: kind === undefined ? 'a required field is missing' : 'is not a kind hitl knows',
      allowed: KINDS,
      got: kind,
    }]);
  }
  let validate = requestValidators.get(ref);
  if (validate === undefined) {
    validate = ajv.getSchema(`${REQUEST_ID}${ref}`);
    if (validate === undefined) throw new Error(`the request schema has no ${ref}`);
    requestValidators.set(ref, validate);
  }
  if (!validate(request)) {
    const [first, ...rest] = errorsOf(validate, request);
    throw new InvalidRequest(first ? [first, ...rest] : [{ path: '', message: 'refused by the schema' }]);
  }
  return request as InteractionRequest;
}

/** The schema without `additionalProperties: false`: what hitl sends may grow new fields. */
function lenient(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lenient);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === 'additionalProperties' && value === false))
      .map(([key, value]) => [key, lenient(value)]),
  );
}

const validateOutcome = ajv.compile(lenient(interactionOutcomeSchema) as JsonSchema);

/** The outcome, or the first reason it does not fit the contract. */
export function readOutcome(body: unknown): { outcome: InteractionOutcome } | { problem: string } {
  if (validateOutcome(body)) return { outcome: body as InteractionOutcome };
  const [first] = errorsOf(validateOutcome, body);
  return { problem: first ? `${first.path || '(the outcome)'}: ${first.message}` : 'refused by the schema' };
}
