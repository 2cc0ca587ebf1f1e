// Requests Node's HTTP parser rejects before Koa sees them (malformed request line, headers too
// large): answered in the same JSON error shape as everything else, then the socket is closed.
import type { Socket } from 'node:net';
import { ERROR_CATALOGUE } from '../errors.ts';

export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A response already under way on this socket cannot be followed by another one.
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'REQUEST_HEADERS_TOO_LARGE' : 'MALFORMED_REQUEST';
  const { status, message } = ERROR_CATALOGUE[code];
  const body = JSON.stringify({ code, error: message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `x-stack-known-error: ${code}\r\n` +
      'cache-control: no-store\r\n' +
      'connection: close\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}
