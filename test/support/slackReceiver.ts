// A Slack incoming webhook on loopback, for the suites that check what the watcher tells.
import { once } from "node:events";
import { createServer } from "node:http";
import { afterAll, beforeAll } from "vitest";

export interface SlackReceiver {
  /** An incoming-webhook URL on 127.0.0.1. */
  url: string;
  /** Every message posted, in order. */
  messages: { text: string; blocks?: unknown[] }[];
  close(): Promise<void>;
}

/** A Slack incoming webhook on loopback that keeps what it is sent and answers "ok" as Slack does. */
export async function startSlackReceiver(): Promise<SlackReceiver> {
  const messages: SlackReceiver["messages"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      messages.push(JSON.parse(body) as SlackReceiver["messages"][number]);
      res.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}/services/T000/B000/XXXX`,
    messages,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A Slack receiver for the suite: started before its tests (and its stack, when called first), closed after. */
export function useSlackReceiver(): { readonly url: string; readonly messages: SlackReceiver["messages"] } {
  let receiver: SlackReceiver | undefined;
  beforeAll(async () => {
    receiver = await startSlackReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });
  const started = () => {
    if (!receiver) throw new Error("the Slack receiver starts in the suite's beforeAll");
    return receiver;
  };
  return {
    get url() {
      return started().url;
    },
    get messages() {
      return started().messages;
    },
  };
}
