// Waiting for a queue to be drained: every message deleted, none left in flight.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { waitFor } from "../cluster/wait.ts";

export async function waitForEmptyQueue(client: SQSClient, queueUrl: string): Promise<void> {
  await waitFor(
    "the queue to be empty (every message deleted)",
    async () => {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return (
        Attributes["ApproximateNumberOfMessages"] === "0" &&
        Attributes["ApproximateNumberOfMessagesNotVisible"] === "0"
      );
    },
    { timeoutMs: 60_000 },
  );
}
