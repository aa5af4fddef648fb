export type * from './types.js';
export type { Capabilities, RetentionOptions } from './capabilities.js';
export type {
  Backend,
  BackendAppendRequest,
  BackendAppendResult,
  BackendConfig,
  BackendEntry,
  BackendFactory,
  BackendLogInfo,
  BackendPresence,
  BackendPresenceEntry,
  BackendProducer,
  LogKind,
  LogRef,
  PresenceRef,
  TailListener,
} from './backend.js';
export { DurableSessionError, isDurableSessionError, toDurableSessionError } from './errors.js';
export type { DurableSessionErrorCode, DurableSessionErrorOptions } from './errors.js';
export { connect } from './store.js';
export { URL_ENV, redact } from './config.js';
export type { ConnectConfig, ConnectOptions, PresenceOptions, StoreOptions } from './config.js';
export { registerBackend, registeredBackends, packageBackend } from './registry.js';
export type { BackendRegistration } from './registry.js';
export { validateSessionId, encodeSessionKey, decodeSessionKey, MAX_SESSION_ID_BYTES } from './session-id.js';
export { padNumber, RAW_OFFSET } from './offsets.js';
export { checkProducer, advanceProducer, PRODUCER_WINDOW } from './producer.js';
export type { ProducerState, ProducerVerdict } from './producer.js';
export { END_TYPE, ACK_TYPE, RESERVED_PREFIX, isEndPayload } from './codec.js';
export { FORK_TYPE, MAX_FORK_DEPTH } from './fork.js';
export { isAckFor } from './control.js';
export { delay } from './timing.js';
