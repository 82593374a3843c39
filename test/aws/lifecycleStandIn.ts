// Auto Scaling's CompleteLifecycleAction, which moto does not implement, answered as AWS documents it (Query
// protocol: a form-encoded request, an XML answer) and recorded, for tests that check what the watcher sends.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";

export interface LifecycleStandIn {
  /** The Auto Scaling endpoint override (AWS_ENDPOINT_URL_AUTO_SCALING). */
  endpoint: string;
  /** The parameters of every CompleteLifecycleAction received, in order. */
  completed: Record<string, string>[];
  close(): Promise<void>;
}

export async function startLifecycleStandIn(): Promise<LifecycleStandIn> {
  const completed: Record<string, string>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      if (params["Action"] !== "CompleteLifecycleAction") {
        res
          .writeHead(400, { "content-type": "text/xml" })
          .end(
            `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not part of the stand-in: ${params["Action"]}</Message></Error></ErrorResponse>`,
          );
        return;
      }
      completed.push(params);
      res
        .writeHead(200, { "content-type": "text/xml" })
        .end(
          `<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>`,
        );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    completed,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
