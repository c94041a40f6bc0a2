import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { sendDittoError } from './ditto-error.filter.js';
import { DomainError, type DittoErrorBody } from './domain-error.js';

/**
 * Ditto answers a URI longer than 8k characters 414 (its OpenAPI says so for every path). This
 * does the same, in Ditto's error JSON, before authentication or any route reads the URL.
 */
export function urlLengthLimit(maxLength: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.originalUrl.length <= maxLength) return next();
    res.setHeader('Connection', 'close');
    sendDittoError(
      req,
      res,
      new DomainError(
        414,
        'gateway:uri.too.long',
        `The request URI is ${req.originalUrl.length} characters long, more than the ${maxLength} allowed.`,
        'Send long filters and id lists in the body of a POST to /api/2/search/things instead.',
      ),
    );
  };
}

/** Ditto's answer to headers over its limit (DittoHeadersTooLargeException), as a whole HTTP response. */
const HEADERS_TOO_LARGE: DittoErrorBody = {
  status: 431,
  error: 'headers.too.large',
  message: 'The request line and headers are larger than the server accepts.',
  description: 'Reduce the size of the headers (or of the URL) and try again.',
};

/** What Node itself answers to the other parse errors (its defaults, kept). */
const NODE_ANSWERS: Record<string, string> = {
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * Node's HTTP parser refuses a request whose request line and headers exceed its maximum
 * (`--max-http-header-size`, 16 KiB by default) before any middleware sees it, and would answer
 * a bare 431 without a body. With a 'clientError' listener Node leaves the answer to us: 431 in
 * Ditto's error JSON; every other parse error gets Node's own answer, as without the listener.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && socket.bytesWritten === 0) {
      if (err.code === 'HPE_HEADER_OVERFLOW') {
        const body = JSON.stringify(HEADERS_TOO_LARGE);
        socket.write(
          'HTTP/1.1 431 Request Header Fields Too Large\r\n' +
            'Content-Type: application/json\r\n' +
            `Content-Length: ${Buffer.byteLength(body)}\r\n` +
            'Connection: close\r\n\r\n' +
            body,
        );
      } else {
        socket.write(NODE_ANSWERS[err.code ?? ''] ?? BAD_REQUEST);
      }
    }
    socket.destroy(err);
  });
}
