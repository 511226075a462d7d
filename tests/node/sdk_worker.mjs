// A small Node service that reports its errors with the real @sentry/node, for ingest tests.
//   node sdk_worker.mjs DSN rejection   an unhandled promise rejection, then exit
//   node sdk_worker.mjs DSN uncaught    an uncaught exception (Node exits on it)
//   node sdk_worker.mjs DSN capture     captureException + captureMessage, then exit
import * as Sentry from "@sentry/node";

const [dsn, mode] = process.argv.slice(2);
Sentry.init({ dsn, release: "node-worker@2.0.0", environment: "test", tracesSampleRate: 0 });

async function fetchOrders() {
  throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
}

function parseReply(text) {
  return JSON.parse(text);
}

if (mode === "rejection") {
  fetchOrders(); // nobody awaits or catches it
  setTimeout(async () => { await Sentry.flush(5000); process.exit(0); }, 1500);
} else if (mode === "uncaught") {
  setTimeout(() => parseReply("<html>bad gateway</html>"), 10);
} else {
  try {
    parseReply("{oops");
  } catch (err) {
    Sentry.captureException(err);
  }
  Sentry.captureMessage("cache warmup skipped 3 keys", "warning");
  await Sentry.flush(5000);
}
