/**
 * A response body sent piece by piece as it is produced (server-sent events, NDJSON), each piece in one
 * socket write.
 *
 * Why not `response.write` alone: for a chunked body Node writes the size line, the piece and the closing
 * CRLF as separate buffered writes under a cork, per piece. Streaming one token at a time, that machinery
 * cost 20–50 µs of the JS thread a token more than one framed write (131–143 vs 94–110 µs an event;
 * BENCHMARKS.md "Serving"), and that thread's time comes out of llama.cpp's on a machine whose cores all
 * decode. Here the chunk is framed in one string and handed to the socket; Node still writes the headers
 * and, on end, the last chunk.
 *
 * Framing by hand only when Node has committed to chunked encoding and the response owns its socket
 * (not an HTTP/1.0 client, not a response queued behind another on a pipelined connection); otherwise
 * every piece goes through `response.write`.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";

export interface BodyStream {
  /** Sends one piece now; nothing once the response has ended or the client has gone. */
  write(text: string): void;
  /** Sends `last` (if given) and ends the response. */
  end(last?: string): void;
}

/** Sends a 200 with `headers` at once and returns the stream for its body. */
export function openBodyStream(response: ServerResponse, headers: OutgoingHttpHeaders): BodyStream {
  response.writeHead(200, headers);
  response.flushHeaders();
  const socket = response.socket;
  const framed = response.chunkedEncoding && socket !== null && socket.writable;
  const write = (text: string): void => {
    // An empty chunk would end the body: nothing to send is sent as nothing.
    if (text === "" || response.writableEnded || response.destroyed) return;
    if (framed && !socket.destroyed) socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
    else response.write(text);
  };
  return {
    write,
    end: (last) => {
      if (response.destroyed || response.writableEnded) return;
      if (last !== undefined) write(last);
      response.end();
    },
  };
}
