// The logger tests hand to the code under test: silent, unless TEST_LOG_LEVEL=debug asks to see it all.
import { createLogger, type Logger } from "../../core/log.ts";

export const quietLog: Logger = createLogger({
  level: process.env.TEST_LOG_LEVEL === "debug" ? "debug" : "silent",
  format: "json",
});
