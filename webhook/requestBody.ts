// Reading an admission request's body with controller-runtime's checks (http.go): no body is a 400, a content
// type other than JSON a 415, more than the cap a 413; the apiserver never compresses what it sends, so an
// encoded body is a 415 too. A refused body is read off before the answer, so a kept-alive connection stays
// usable (as body-parser does).
import type { IncomingMessage } from "node:http";

export type RequestBody = { ok: true; body: Buffer } | { ok: false; status: number; message: string };

/** Whether the request says it carries a JSON body: null when it carries none (type-is's `req.is`). */
export function isJsonRequest(req: IncomingMessage): boolean | null {
  const length = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  if (!hasBody) return null;
  const type = req.headers["content-type"];
  if (type === undefined) return false;
  const semicolon = type.indexOf(";");
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === "application/json";
}

export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  const json = isJsonRequest(req);
  if (json === null) return Promise.resolve(refused(400, "request body is empty"));
  if (json === false) {
    const received = req.headers["content-type"] ?? "none";
    return Promise.resolve(
      refused(415, `content type ${received} is not supported; expected application/json`),
    );
  }
  const encoding = req.headers["content-encoding"]?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
    return Promise.resolve(refused(415, `content encoding ${encoding} is not supported`));
  }
  const tooLarge = refused(413, `request body is larger than the ${maxBytes} byte limit`);
  const declared = Number(req.headers["content-length"]);
  if (declared > maxBytes) return drain(req, tooLarge);

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off("data", onData).off("end", onEnd);
      chunks.length = 0;
      void drain(req, tooLarge).then(resolve);
    };
    const onEnd = () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      resolve(size === 0 ? refused(400, "request body is empty") : { ok: true, body });
    };
    req.on("data", onData).on("end", onEnd);
    // a client that goes away mid-body gets no answer: there is no one to read it
    req.on("error", () => req.destroy());
  });
}

function refused(status: number, message: string): RequestBody {
  return { ok: false, status, message };
}

/** Reads off and drops the rest of the body, then resolves with `answer`. */
function drain(req: IncomingMessage, answer: RequestBody): Promise<RequestBody> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve(answer);
    req.on("end", () => resolve(answer)).resume();
  });
}
