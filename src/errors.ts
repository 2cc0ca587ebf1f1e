// One catalogue of the errors a client can be told about (Fastify-style): code -> status and
// the default message. Domain code throws `KnownError`s by code; the HTTP layer renders them as
// `{code, error, details?}` with the `x-stack-known-error` header. Anything else is a bug (500).

export const ERROR_CATALOGUE = {
  SCHEMA_ERROR: { status: 400, message: 'Request validation failed.' },
  BODY_PARSING_ERROR: { status: 400, message: 'The request body could not be parsed.' },
  REQUEST_TOO_LARGE: { status: 413, message: 'The request body is larger than 100 kB.' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  MALFORMED_REQUEST: { status: 400, message: 'The request could not be parsed as HTTP.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this route.' },
  ACCESS_TYPE_REQUIRED: {
    status: 400,
    message:
      'You must specify an access level for this endpoint: send x-stack-publishable-client-key, x-stack-secret-server-key or x-stack-super-secret-admin-key (x-stack-access-type is inferred from the key).',
  },
  INVALID_ACCESS_TYPE: { status: 400, message: "The x-stack-access-type header must be 'client', 'server' or 'admin'." },
  PROJECT_ID_MISMATCH: { status: 400, message: 'The x-stack-project-id header does not match the project of the key.' },
  CURRENT_PROJECT_NOT_FOUND: { status: 400, message: 'The current project does not exist.' },
  INVALID_PUBLISHABLE_CLIENT_KEY: { status: 401, message: 'The publishable client key is not valid for this project.' },
  PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT: {
    status: 401,
    message: 'Publishable client keys are required for this project. Create one in Project Keys, or disable this requirement there to allow keyless client access.',
  },
  INVALID_SECRET_SERVER_KEY: { status: 401, message: 'The secret server key is not valid for this project.' },
  INVALID_SUPER_SECRET_ADMIN_KEY: { status: 401, message: 'The super secret admin key is not valid for this project.' },
  INVALID_ADMIN_ACCESS_TOKEN: { status: 401, message: 'The admin access token is not valid for this project.' },
  INSUFFICIENT_ACCESS_TYPE: { status: 401, message: 'The access type is not allowed for this endpoint.' },
  UNPARSABLE_ACCESS_TOKEN: { status: 401, message: 'The access token is not valid.' },
  ACCESS_TOKEN_EXPIRED: { status: 401, message: 'The access token has expired.' },
  USER_AUTHENTICATION_REQUIRED: { status: 400, message: 'User authentication required for this endpoint.' },
  CANNOT_GET_OWN_USER_WITHOUT_USER: { status: 400, message: "You have specified 'me' as a userId, but did not provide authentication for a user." },
  ANONYMOUS_AUTHENTICATION_NOT_ALLOWED: {
    status: 401,
    message:
      "X-Stack-Access-Token is for an anonymous user, but anonymous users are not enabled. Set the X-Stack-Allow-Anonymous-User header of this request to 'true' to allow anonymous users.",
  },
  USER_NOT_FOUND: { status: 404, message: 'User not found.' },
  CLIENT_USER_DELETION_NOT_ENABLED: { status: 400, message: 'Client user deletion is not enabled for this project' },
  USER_ID_DOES_NOT_EXIST: { status: 400, message: 'The given user does not exist.' },
  USER_EMAIL_ALREADY_EXISTS: { status: 409, message: 'A user with this email address already exists.' },
  REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED: {
    status: 401,
    message: 'Refresh token not found for this project, or the session has expired/been revoked.',
  },
  CLIENT_CANNOT_ACCESS_OTHER_USER: { status: 403, message: 'Client can only list or revoke sessions of their own user.' },
  CANNOT_DELETE_CURRENT_SESSION: { status: 400, message: 'Cannot delete the current session.' },
  SESSION_NOT_FOUND: { status: 404, message: 'Session not found.' },
  API_KEY_NOT_FOUND: { status: 404, message: 'API key not found.' },
  API_KEY_RETIRING: { status: 403, message: 'A key in its grace period after a rotation cannot rotate or revoke keys; use the current key.' },
  SIGNING_KEY_ROTATED_RECENTLY: { status: 409, message: 'The signing key was rotated too recently: tokens signed with the previous key are still live.' },
  INVALID_LOGIN_CODE: { status: 400, message: 'Invalid login code or the code has expired' },
  INVALID_ANON_REFRESH_TOKEN: { status: 400, message: 'The anon refresh token is not a live refresh token of an anonymous user of this project.' },
  RESTRICTED_USER_NOT_ALLOWED: {
    status: 403,
    message: 'The user in the access token is in restricted state. Reason: anonymous. Please pass the X-Stack-Allow-Restricted-User header if this is intended.',
  },
  NO_ANONYMOUS_CLI_SESSION: { status: 400, message: 'No anonymous session associated with this code' },
  INVALID_POLLING_CODE: { status: 400, message: 'The polling code is invalid or does not exist.' },
  REDIRECT_URL_NOT_WHITELISTED: { status: 400, message: 'Redirect URL not whitelisted.' },
  VERIFICATION_CODE_NOT_FOUND: { status: 404, message: 'The verification code does not exist for this project.' },
  VERIFICATION_CODE_EXPIRED: { status: 400, message: 'The verification code has expired.' },
  VERIFICATION_CODE_ALREADY_USED: { status: 409, message: 'The verification link has already been used.' },
  VERIFICATION_CODE_MAX_ATTEMPTS_REACHED: {
    status: 400,
    message: 'The verification code nonce has reached the maximum number of attempts. This code is not valid anymore.',
  },
  FORM_EXPIRED: { status: 403, message: 'This form has expired or did not come from this page. Reload the page and try again.' },
  INVALID_METRICS_TOKEN: { status: 401, message: 'GET /metrics needs `authorization: Bearer <METRICS_TOKEN>`.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests. Try again later.' },
  CONCURRENT_MODIFICATION: { status: 503, message: 'The request conflicted with concurrent requests too often. Retry.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A backend is unavailable. Nothing was changed; retry later.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class KnownError extends Error {
  override readonly name = 'KnownError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    /** Extra response headers, e.g. retry-after. */
    readonly headers?: Record<string, string>,
  ) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export const knownError = (
  code: ErrorCode,
  message?: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>,
): KnownError => new KnownError(code, message, details, headers);

/** BODY_PARSING_ERROR with its message in the details too, where upstream (and its SDK) has it. */
export const bodyParsingError = (message: string): KnownError => knownError('BODY_PARSING_ERROR', message, { message });
