// Exchange and queue names and queue arguments: hitl_contract.wire (docs/contract.md, "Names").

export const DEFAULT_NAMESPACE = 'hitl';
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const DEFAULT_DELIVERY_LIMIT = 5;
export type QueueType = 'quorum' | 'classic';

export const REQUEST_TYPE = 'hitl.request';
export const RESPONSE_TYPE = 'hitl.response';
export const OUTCOME_TYPE = 'hitl.outcome';
export const CONTENT_TYPE = 'application/json';

export class Names {
  constructor(readonly namespace: string) {}
  get requests(): string { return `${this.namespace}.requests`; }
  get responses(): string { return `${this.namespace}.responses`; }
  get notifications(): string { return `${this.namespace}.notifications`; }
  get outcomes(): string { return `${this.namespace}.outcomes`; }
  get events(): string { return `${this.namespace}.events`; }
  get deadLetter(): string { return `${this.namespace}.dlx`; }
  get requestsQueue(): string { return `${this.namespace}.broker.requests`; }
  get responsesQueue(): string { return `${this.namespace}.broker.responses`; }
  get deadLetterQueue(): string { return `${this.namespace}.dead-letter`; }
  replyQueue(replyTo: string): string { return `${this.namespace}.reply.${replyTo}`; }
  get exchanges(): readonly string[] {
    return [this.requests, this.responses, this.notifications, this.outcomes, this.events];
  }
}

/** The arguments every hitl queue is declared with; RabbitMQ refuses other ones. */
export function queueArguments(
  names: Names, queueType: QueueType, deliveryLimit: number, deadLetter = true,
): Record<string, string | number> {
  const args: Record<string, string | number> = { 'x-queue-type': queueType };
  if (deadLetter) {
    args['x-dead-letter-exchange'] = names.deadLetter;
    if (queueType === 'quorum') args['x-delivery-limit'] = deliveryLimit;
  }
  return args;
}
