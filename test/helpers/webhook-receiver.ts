// A real webhook receiver on 127.0.0.1 (node:http) for tests: it records every request, verifies
// its Standard Webhooks signature with the `standardwebhooks` library (the receiver side of the
// spec, written by others), and answers as the test says: a status, a redirect, a body of any size
// (streamed with backpressure, counting what the client actually took), or no answer at all.
import http from "node:http";
import type net from "node:net";
import { Webhook } from "standardwebhooks";

export type ReceivedRequest = {
  /** Date.now() when the request's body had arrived. */
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The verified payload, or null when no secret is set for the path or verification failed. */
  verified: unknown;
  verifyError: string | null;
};

export type Answer = {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Stream this many bytes of body (in 64 KiB chunks, honouring backpressure). */
  bodyBytes?: number;
  /** Never answer (the client's timeout decides). */
  hang?: boolean;
};

export type Responder = (req: ReceivedRequest, index: number) => Answer;

export type WebhookReceiver = {
  port: number;
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** Requests to one path. */
  to(path: string): ReceivedRequest[];
  /** Verifies requests to `path` with this `whsec_` secret. */
  setSecret(path: string, secret: string): void;
  /** How requests to `path` are answered (default: 204). */
  respond(path: string, fn: Responder): void;
  /** Body bytes written for streamed answers, per path, until the client went away. */
  streamed: Map<string, { written: number; finished: boolean; closedEarly: boolean }>;
  waitFor(path: string, count: number, timeoutMs: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
};

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const secrets = new Map<string, string>();
  const responders = new Map<string, Responder>();
  const streamed = new Map<string, { written: number; finished: boolean; closedEarly: boolean }>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const body = Buffer.concat(chunks).toString("utf8");
      let verified: unknown = null;
      let verifyError: string | null = null;
      const secret = secrets.get(path);
      if (secret) {
        try {
          verified = new Webhook(secret).verify(body, {
            "webhook-id": String(req.headers["webhook-id"] ?? ""),
            "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
            "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
          });
        } catch (err) {
          verifyError = (err as Error).message;
        }
      }
      const entry: ReceivedRequest = {
        at: Date.now(),
        method: req.method ?? "",
        path,
        headers: req.headers,
        body,
        verified,
        verifyError,
      };
      requests.push(entry);
      const index = requests.filter((r) => r.path === path).length - 1;
      const answer: Answer = (responders.get(path) ?? ((): Answer => ({ status: 204 })))(entry, index);
      if (answer.hang) return;
      res.writeHead(answer.status ?? 200, answer.headers ?? {});
      if (answer.bodyBytes === undefined) {
        res.end(answer.body ?? "");
        return;
      }
      const stat = { written: 0, finished: false, closedEarly: false };
      streamed.set(path, stat);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.on("close", () => {
        if (!stat.finished) stat.closedEarly = true;
      });
      const pump = () => {
        while (stat.written < answer.bodyBytes! && !res.destroyed) {
          const n = Math.min(chunk.length, answer.bodyBytes! - stat.written);
          stat.written += n;
          if (!res.write(chunk.subarray(0, n))) return void res.once("drain", pump);
        }
        if (!res.destroyed) {
          stat.finished = true;
          res.end();
        }
      };
      pump();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const to = (path: string) => requests.filter((r) => r.path === path);
  return {
    port,
    url: (path = "/") => `http://127.0.0.1:${port}${path}`,
    requests,
    to,
    setSecret: (path, secret) => void secrets.set(path, secret),
    respond: (path, fn) => void responders.set(path, fn),
    streamed,
    async waitFor(path, count, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (to(path).length < count) {
        if (Date.now() > end)
          throw new Error(`receiver: ${to(path).length} of ${count} requests to ${path} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return to(path);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
