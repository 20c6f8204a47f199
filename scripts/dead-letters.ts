/**
 * `npm run dead-letters -- [--service registration] [--limit 50] [--json]`: the messages the
 * services' consumers set aside (a poison message, or one that failed its last delivery), per
 * service, oldest first: which consumer, which stream and sequence, how many deliveries, why, and
 * the message. It reads and changes nothing else.
 *
 * Connects as the `operator` NATS user (platform/src/messaging/nats-auth.ts): NATS_URL (default the
 * running `npm start`'s, from .data/nats/url), NATS_USER / NATS_PASSWORD (default the operator
 * and this checkout's dev password, .data/dev-secrets.json), NATS_NAMESPACE.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { BUS, busRole, type BusService } from '@courses/contracts';
import { DATA, devSecrets } from '@courses/devkit/provision';
import { inboxPrefixOf, OPERATOR_USER, readDeadLetters } from '@courses/platform';

/** The NATS URL `npm start` wrote for this checkout. @throws when none runs */
function startedNats(): string {
  const file = path.join(DATA, 'nats', 'url');
  if (!existsSync(file)) throw new Error('no NATS_URL, and no `npm start` running in this checkout: set NATS_URL');
  return readFileSync(file, 'utf8').trim();
}

// Piped into `head` and the like: a reader that has had enough is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const { values } = parseArgs({
  options: { service: { type: 'string' }, limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
});
const consumers = (Object.keys(BUS) as BusService[]).filter((s) => Object.keys(busRole(s).consumes ?? {}).length);
const services = values.service ? [values.service] : consumers;
if (values.service && !consumers.includes(values.service as BusService)) {
  process.stderr.write(`--service must be one of ${consumers.join(', ')}\n`);
  process.exit(2);
}
const user = process.env.NATS_USER ?? OPERATOR_USER;
const nc = await connect({
  servers: process.env.NATS_URL ?? startedNats(),
  user,
  pass: process.env.NATS_PASSWORD ?? devSecrets().NATS_PASSWORDS[OPERATOR_USER],
  inboxPrefix: inboxPrefixOf(user),
});
try {
  const namespace = process.env.NATS_NAMESPACE ?? '';
  const all = [];
  for (const service of services) {
    const letters = await readDeadLetters(nc, service, namespace, Number(values.limit)).catch((err: Error) => {
      process.stderr.write(`${service}: ${err.message}\n`);
      return [];
    });
    all.push(...letters.map((l) => ({ service, ...l })));
    if (!values.json) {
      process.stdout.write(`${service}: ${letters.length} dead letter(s)\n`);
      for (const l of letters)
        process.stdout.write(
          `  #${l.letterSeq} ${l.at} ${l.durable} ← ${l.stream}#${l.seq} (${l.deliveries} deliveries): ${l.reason}\n    ${l.data.slice(0, 200)}\n`,
        );
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
} finally {
  await nc.close();
}
