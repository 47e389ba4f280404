// One error tree, as in the Python SDK (services/hitl/errors.py): HitlError at the root, a
// subclass per thing a caller handles differently. A library error is wrapped with `cause`.

/** Root of every error the client throws on purpose. */
export class HitlError extends Error {
  override name = 'HitlError';
}

/** Options that cannot work (a bad namespace, a queue declared with other arguments, a
 * RabbitMQ user without the permission to declare what it must). */
export class ConfigError extends HitlError {
  override name = 'ConfigError';
}

/** RabbitMQ could not be reached, refused or returned a message, or dropped the connection. */
export class TransportError extends HitlError {
  override name = 'TransportError';
}

/** One thing wrong with a request, as the broker's dead-letter headers say it. */
export interface FieldError {
  /** Where: `options[2]`, `on_timeout.action`, `''` for the whole request. */
  path: string;
  message: string;
  /** The values that would have been valid, when the schema lists them. */
  allowed?: readonly unknown[];
  /** What was sent at that path (undefined when nothing was). */
  got?: unknown;
}

/** A request the contract refuses (schemas/json): nothing was published. `path`, `allowed`
 * and `got` are those of the first error; `errors` has every one the schema found. */
export class InvalidRequest extends HitlError {
  override name = 'InvalidRequest';
  readonly path: string;
  readonly allowed: readonly unknown[] | undefined;
  readonly got: unknown;

  constructor(readonly errors: readonly [FieldError, ...FieldError[]]) {
    const [first] = errors;
    const allowed = first.allowed ? `; allowed: ${first.allowed.map((v) => JSON.stringify(v)).join(', ')}` : '';
    const got = first.got === undefined ? '' : `; got ${JSON.stringify(first.got)}`;
    super(`invalid request at ${first.path || '(the request)'}: ${first.message}${allowed}${got}`);
    this.path = first.path;
    this.allowed = first.allowed;
    this.got = first.got;
  }
}

/** `outcome()` gave up waiting; the interaction is still pending in the broker and its
 * outcome still arrives (await it again, `resume(id)`, or `outcomes()`). */
export class AskTimeout extends HitlError {
  override name = 'AskTimeout';
  constructor(readonly interactionId: string, readonly timeoutMs: number) {
    super(`no outcome for ${interactionId} within ${timeoutMs} ms; it is still pending`);
  }
}

/** The client was closed while this was waiting. The outcome is not lost: it stays in the
 * durable reply queue for the next client of this service. */
export class ClientClosed extends HitlError {
  override name = 'ClientClosed';
}
