// @hitl/client: ask people through hitl from TypeScript.
export { connect, HitlClient, Interaction } from './client.js';
export type { AskOptions, AskRequest, ConnectOptions, WaitOptions } from './client.js';
export { AskTimeout, ClientClosed, ConfigError, HitlError, InvalidRequest, TransportError } from './errors.js';
export type { FieldError } from './errors.js';
export { DEFAULT_NAMESPACE, Names, queueArguments } from './names.js';
export type { QueueType } from './names.js';
export { KINDS, checkRequest } from './validate.js';

// The wire contract's types, generated from schemas/json (npm run generate).
export type {
  ApprovalRequest, BatchItem, BatchRequest, ChoiceRequest, ClarifyRequest, ConfirmationRequest,
  ConversationRequest, DecisionPolicy, EditRequest, EscalationStep, FormField, FormRequest, Identity,
  InteractionRequest, PreviewRequest, Question, TextField, TextInputRequest, TimeoutPolicy, Turn,
  ValidationRequest,
} from './generated/interaction-request.js';
export type { DecidedBy, InteractionOutcome, Vote } from './generated/interaction-outcome.js';
export type { HumanResponse } from './generated/human-response.js';
export type { ErrorDetail, ReceiptResult, ResponseReceipt } from './generated/response-receipt.js';
export type { Notification } from './generated/notification.js';
export type { LifecycleEvent, LifecycleEvents } from './generated/lifecycle-events.js';
