// Resolves on the first SIGTERM or SIGINT; the handlers are removed then, so a second signal exits at once.
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (received: NodeJS.Signals) => {
      process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
      resolve(received);
    };
    process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  });
}
