// "A backend is down": the one family of errors meaning that nothing was written and the client
// may retry. Each adapter throws its own member (store/, readmodel/, mail/); whoever turns errors
// into responses (http/error-responses.ts, the approval page) reads the family, its `status`,
// `expose` and `backend`, never a class name: a new backend joins by extending this class.

/** The backends a request depends on, as the `backend` label of the backend-error metric names them. */
export type Backend = 'event_store' | 'read_model' | 'mail';

export class BackendUnavailableError extends Error {
  override readonly name: string = 'BackendUnavailableError';
  /** Service Unavailable: the request may be retried as it is. */
  readonly status = 503;
  /**
   * The message names hosts, files and reasons for the operator's log; a client is told only that
   * a backend is unavailable (Koa's convention: `expose` false keeps the message from the client).
   */
  readonly expose = false;

  constructor(
    readonly backend: Backend,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
