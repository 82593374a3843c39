// The SQS part of the floor: how long a message takes from SendMessage to a waiting long poll's answer on the
// same emulator, with a bare SDK client on a queue of its own.
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { summarize, type Summary } from "../stats.ts";

export async function sqsReceiveFloor(client: SQSClient, queueUrl: string, samples = 5): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const received = client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }),
    );
    // let the long poll reach the emulator before the message is sent
    await new Promise((resolve) => setTimeout(resolve, 200));
    const start = performance.now();
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `floor ${i}` }));
    const { Messages = [] } = await received;
    times.push(performance.now() - start);
    for (const m of Messages) {
      await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
    if (Messages.length === 0) throw new Error("the SQS floor's long poll returned no message");
  }
  return summarize(times);
}
