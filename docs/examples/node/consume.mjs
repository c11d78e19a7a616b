// Read entrasync's public change events with a durable JetStream consumer (Node.js).
//
//   npm ci
//   node consume.mjs --durable my-service                      # every event kept, then live
//   node consume.mjs --durable audit-2025 --since 2025-06-01T00:00:00Z
//
// Each event is checked as a CloudEvent (the `cloudevents` package), printed as one line of JSON
// and acknowledged after it was handled, so the consumer resumes after the last event it
// acknowledged when it starts again. Delivery is at least once: a crash between handling and
// acknowledging delivers that event again, with the same `id`, so make the handling idempotent.
// See docs/consuming-events.md.

import { parseArgs } from "node:util";
import { AckPolicy, DeliverPolicy, connect } from "nats";
import { CloudEvent } from "cloudevents";

const { values: args } = parseArgs({
  options: {
    server: { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
    durable: { type: "string" },
    since: { type: "string" },
    prefix: { type: "string", default: "" },
    subject: { type: "string", default: "entrasync.directory.>" },
    "idle-exit": { type: "string", default: "0" },
  },
});
if (!args.durable) {
  console.error("usage: node consume.mjs --durable NAME [--since TIME] [--prefix P] [--subject S]");
  process.exit(2);
}

// Names of an installation with ENTRASYNC_PREFIX=prefix (none in most installations).
function streamAndSubject(prefix, subject) {
  if (!prefix) return ["ENTRASYNC_EVENTS", subject];
  return [`${prefix.toUpperCase().replaceAll(".", "_")}_ENTRASYNC_EVENTS`, `${prefix}.${subject}`];
}

// Creates the durable on first use. Its settings apply then only: an existing durable keeps its
// position (and its start time), whatever --since says now.
async function bindDurable(nc, stream, subject) {
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.consumers.info(stream, args.durable);
  } catch (err) {
    if (err.code !== "404") throw err;
    await jsm.consumers.add(stream, {
      durable_name: args.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 60_000_000_000, // nanoseconds
      max_ack_pending: 1000,
      filter_subject: subject,
      deliver_policy: args.since ? DeliverPolicy.StartTime : DeliverPolicy.All,
      ...(args.since ? { opt_start_time: new Date(args.since).toISOString() } : {}),
    });
  }
  return nc.jetstream().consumers.get(stream, args.durable);
}

// Your code goes here; this example prints the event as one line of JSON.
function handle(event) {
  console.log(JSON.stringify(event));
}

const [stream, subject] = streamAndSubject(args.prefix, args.subject);
const idleExitMs = Number(args["idle-exit"]) * 1000;
const nc = await connect({ servers: args.server });
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => nc.drain()); // ends the fetch below; unacknowledged events come again
}
const consumer = await bindDurable(nc, stream, subject);
while (!nc.isClosed() && !nc.isDraining()) {
  const messages = await consumer.fetch({ max_messages: 100, expires: idleExitMs || 30_000 });
  let received = 0;
  for await (const msg of messages) {
    received += 1;
    handle(new CloudEvent(msg.json(), true)); // strict: refuses an invalid envelope
    await msg.ackAck(); // the server confirmed: the next start resumes after this event
  }
  if (received === 0 && idleExitMs) break;
}
if (!nc.isClosed()) await nc.drain();
