import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { openBodyStream } from "./body-stream.js";

// An empty piece among them: framed as is it would be the chunk that ends the body.
const PIECES = ["data: {\"a\":1}\n\n", "", "data: {\"text\":\"héllo ✓\"}\n\n", "x".repeat(70_000)];
let server: Server;
let port = 0;

before(async () => {
  server = createServer((request, response) => {
    const body = openBodyStream(response, { "Content-Type": "text/plain; charset=utf-8" });
    // Pieces over several turns of the event loop, as tokens come.
    let index = 0;
    const next = (): void => {
      if (index < PIECES.length) {
        body.write(PIECES[index++]!);
        setImmediate(next);
      } else body.end(`end ${request.url}\n`);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Writes `raw` on one connection and collects everything until the server closes it. */
function exchange(raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Written, not ended: a half-closed client would have Node end the socket early.
    const socket = connect(port, "127.0.0.1", () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    socket.on("error", reject);
  });
}

/** Parses HTTP/1.1 responses with chunked bodies off a connection's bytes, checking every chunk size. */
function chunkedResponses(text: string): string[] {
  const bytes = Buffer.from(text, "utf8");
  const bodies: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf("\r\n\r\n", at);
    const head = bytes.subarray(at, headEnd).toString("latin1");
    assert.match(head, /^HTTP\/1\.1 200 OK/);
    assert.match(head, /transfer-encoding: chunked/i);
    at = headEnd + 4;
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = bytes.indexOf("\r\n", at);
      const size = Number.parseInt(bytes.subarray(at, lineEnd).toString("latin1"), 16);
      assert.ok(Number.isInteger(size), `a chunk size line at byte ${at}`);
      at = lineEnd + 2;
      parts.push(bytes.subarray(at, at + size));
      assert.equal(bytes.subarray(at + size, at + size + 2).toString("latin1"), "\r\n", "each chunk ends with CRLF");
      at += size + 2;
      if (size === 0) break;
    }
    bodies.push(Buffer.concat(parts).toString("utf8"));
  }
  return bodies;
}

test("pieces go out as valid chunks, and the connection serves the next request (pipelined too)", async () => {
  const request = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const text = await exchange(request("/one") + request("/two") + `GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.deepEqual(chunkedResponses(text), ["/one", "/two", "/three"].map((path) => `${PIECES.join("")}end ${path}\n`));
});

test("an HTTP/1.0 client gets the body unframed, ended by the connection's close", async () => {
  const text = await exchange("GET /old HTTP/1.0\r\n\r\n");
  const split = text.indexOf("\r\n\r\n");
  assert.doesNotMatch(text.slice(0, split), /transfer-encoding/i);
  assert.equal(text.slice(split + 4), `${PIECES.join("")}end /old\n`);
});

test("a client gone mid-stream costs nothing: later writes and end are ignored", async () => {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("GET /gone HTTP/1.1\r\nHost: x\r\n\r\n"));
    socket.once("data", () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
  });
  // The server is still there for the next client.
  assert.deepEqual(chunkedResponses(await exchange("GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), [`${PIECES.join("")}end /after\n`]);
});
