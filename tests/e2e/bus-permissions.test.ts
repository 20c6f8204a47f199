/**
 * The authenticated event bus, against a real nats-server configured as in production: every
 * service connects as its own user; a service that tries to speak for another context, read
 * another's messages or manage another's stream is refused by the server, nothing forged is
 * stored, and the system stays consistent. Also: deploy/nats.conf (what compose mounts) is the
 * generated one, and a server started from it accepts the services' passwords from its
 * environment and nobody else; and a service reaches a TLS-only server when it trusts its CA.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BUS_SERVICES, createEvent, streamOf, subjectOf } from '@courses/contracts';
import { eventually, gqlOk } from '@courses/devkit/graphql-client';
import { freePort, portOpen } from '@courses/devkit/provision';
import {
  connectNats,
  createLogger,
  deadLetterStream,
  deploymentNatsConfig,
  inboxPrefixOf,
  natsAuthOf,
  natsHelmValues,
  natsPasswordVariable,
  OPERATOR_USER,
  publishEvent,
  readDeadLetters,
} from '@courses/platform';
import { toolAvailable } from '@courses/test-kit/env';
import { natsServerBinary, startOwnNatsServer } from '@courses/test-kit/nats-server';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
const open: NatsConnection[] = [];
const as = async (user: Parameters<TestSystem['nats']['connect']>[0]) => {
  const nc = await sys.nats.connect(user);
  open.push(nc);
  return nc;
};

beforeAll(async () => {
  sys = await startSystem();
}, 60_000);

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await sys?.stop();
});

/** Messages stored in a stream (read as `ops`). */
async function stored(stream: string): Promise<number> {
  const jsm = await jetstreamManager(await as('ops'));
  return (await jsm.streams.info(stream)).state.messages;
}

/**
 * The error a subscription gets (a refused one ends with a permissions violation), or 'no error':
 * the server answers a SUB it refuses with -ERR before it answers the PING of a flush sent after
 * it, on the same connection, so once the flush is done the answer is in.
 */
async function subscriptionError(nc: NatsConnection, subject: string): Promise<string> {
  let error = 'no error';
  nc.subscribe(subject, { callback: (err) => void (err && (error = err.message)) });
  await nc.flush();
  return error;
}

describe('authenticated event bus', () => {
  it("refuses a connection without a user, or with another service's password", async () => {
    await expect(connect({ servers: sys.nats.url, timeout: 2_000 })).rejects.toThrow(/authoriz/i);
    const { NATS_PASSWORD } = sys.nats.credentials('registration');
    await expect(connect({ servers: sys.nats.url, user: 'lecture', pass: NATS_PASSWORD, timeout: 2_000 })).rejects.toThrow(/authoriz/i);
  });

  it('refuses a forged registration.canceled from every other service: nothing stored, no refund, the registration stays CONFIRMED', async () => {
    const instructor = await sys.token('INSTRUCTOR', 'i-bus');
    const student = await sys.token('STUDENT', 's-bus');
    const lecture = await sys.openLecture(instructor, 'Bus Security');
    await sys.waitForCatalog(lecture);
    const reg = await sys.register(lecture, student, 'id status payment { id }');
    expect(reg.status).toBe('CONFIRMED');
    const stream = streamOf('registration', sys.tag).name;
    await eventually(async () => (await stored(stream)) >= 1, 10_000, 'the confirmation stored');
    const before = await stored(stream);

    const forged = createEvent('registration.canceled', {
      registrationId: reg.id,
      studentId: 's-bus',
      lectureId: lecture,
      instructorId: 'i-bus',
      reason: 'STUDENT_REQUEST',
      paymentId: reg.payment.id,
    });
    for (const user of ['lecture', 'payment', 'dashboard', 'gateway'] as const) {
      const js = jetstream(await as(user), { timeout: 2_000 });
      await expect(publishEvent(js, forged, sys.tag), `${user} publishing registration.canceled`).rejects.toThrow(/permissions violation/i);
    }
    expect(await stored(stream)).toBe(before);
    const after = await gqlOk(sys.url, 'query($id: ID!) { registration(id: $id) { status payment { status } } }', { id: reg.id }, student);
    expect(after.registration).toEqual({ status: 'CONFIRMED', payment: { status: 'COMPLETED' } });
    await sys.assertConsistent();
  });

  it('refuses a forged lecture.opened from registration (no lecture at any price enters the catalog)', async () => {
    const stream = streamOf('lecture', sys.tag).name;
    const before = await stored(stream);
    const forged = createEvent('lecture.opened', {
      lectureId: 'l-forged',
      title: 'Free course',
      instructorId: 'i-x',
      capacity: 1000,
      price: 0,
    });
    await expect(publishEvent(jetstream(await as('registration'), { timeout: 2_000 }), forged, sys.tag)).rejects.toThrow(
      /permissions violation/i,
    );
    expect(await stored(stream)).toBe(before);
  });

  it("lets no service read another's replies or pulls, listen to events it does not consume, or manage another's stream", async () => {
    const payment = await as('payment');
    expect(await subscriptionError(payment, `${inboxPrefixOf('registration')}.>`)).toMatch(/permissions violation/i);
    expect(await subscriptionError(payment, '_INBOX.>')).toMatch(/permissions violation/i);
    expect(await subscriptionError(payment, subjectOf('lecture.opened', sys.tag))).toMatch(/permissions violation/i);
    // The dashboard may not pull from lecture's durable consumer, nor delete or purge a stream.
    const dashboard = await as('dashboard');
    const registrationStream = streamOf('registration', sys.tag).name;
    for (const api of [
      `$JS.API.CONSUMER.MSG.NEXT.${registrationStream}.lecture-enrolment`,
      `$JS.API.STREAM.DELETE.${registrationStream}`,
      `$JS.API.STREAM.PURGE.${registrationStream}`,
    ]) {
      await expect(dashboard.request(api, '', { timeout: 2_000 }), api).rejects.toThrow(/permissions violation/i);
    }
    // Nor may a service change what its own stream (or dead-letter stream) keeps.
    const registration = await as('registration');
    for (const api of [
      `$JS.API.STREAM.UPDATE.${registrationStream}`,
      `$JS.API.STREAM.UPDATE.${deadLetterStream('registration', sys.tag).name}`,
    ]) {
      await expect(registration.request(api, '{}', { timeout: 2_000 }), api).rejects.toThrow(/permissions violation/i);
    }
    expect((await jetstreamManager(await as('ops')).then((m) => m.streams.info(registrationStream))).config.name).toBe(registrationStream);
    // Dead letters: only into the service's own dead-letter stream.
    await expect(
      jetstream(await as('registration'), { timeout: 2_000 }).publish(`${sys.tag}.deadletter.payment.payment-refunds`, 'x'),
    ).rejects.toThrow(/permissions violation/i);
  });

  it("lets the gateway read the streams through consumers of its own, but not take, change or remove the services' durable consumers, nor publish", async () => {
    const gateway = await as('gateway');
    const registrationStream = streamOf('registration', sys.tag).name;
    // An ordered consumer (what its feeds and replays are) reads the stream from the start.
    const consumer = await jetstream(gateway).consumers.get(registrationStream, { opt_start_seq: 1 });
    const first = await consumer.next({ expires: 2_000 });
    expect(first?.seq).toBe(1);
    await consumer.delete();
    for (const api of [
      `$JS.API.CONSUMER.MSG.NEXT.${registrationStream}.lecture-enrolment`,
      `$JS.API.CONSUMER.CREATE.${registrationStream}.lecture-enrolment`,
      `$JS.API.CONSUMER.DELETE.${registrationStream}.payment-refunds`,
      `$JS.API.STREAM.PURGE.${registrationStream}`,
      `$JS.API.STREAM.INFO.${deadLetterStream('payment', sys.tag).name}`,
    ]) {
      await expect(gateway.request(api, '{}', { timeout: 2_000 }), api).rejects.toThrow(/permissions violation/i);
    }
    await expect(jetstream(gateway, { timeout: 2_000 }).publish(subjectOf('registration.confirmed', sys.tag), 'x')).rejects.toThrow(
      /permissions violation/i,
    );
  });

  it('lets a consumer set a poison message aside in its own dead-letter stream, with its own user, and the operator read it', async () => {
    const dlq = deadLetterStream('registration', sys.tag).name;
    await jetstream(await as('lecture'), { timeout: 2_000 }).publish(subjectOf('lecture.opened', sys.tag), 'not an event');
    await eventually(async () => (await stored(dlq).catch(() => 0)) === 1, 10_000, 'the poison message in DEADLETTER_REGISTRATION');
    // The operator reads it (what `npm run dead-letters` prints), and it stays there.
    const operator = await as('operator');
    const [letter] = await readDeadLetters(operator, 'registration', sys.tag);
    expect(letter).toMatchObject({ stream: streamOf('lecture', sys.tag).name, data: 'not an event' });
    expect(letter.reason).toMatch(/^poison/);
    expect(await stored(dlq)).toBe(1);
    // The operator may change a stream's limits; it publishes no event and takes no service's messages.
    const jsm = await jetstreamManager(operator);
    const lectureStream = streamOf('lecture', sys.tag).name;
    const before = (await jsm.streams.info(lectureStream)).config.max_age;
    await jsm.streams.update(lectureStream, { max_age: before });
    await expect(jetstream(operator, { timeout: 2_000 }).publish(subjectOf('lecture.opened', sys.tag), '{}')).rejects.toThrow(
      /permissions violation/i,
    );
    for (const api of [
      `$JS.API.CONSUMER.MSG.NEXT.${lectureStream}.registration-catalog`,
      `$JS.API.STREAM.PURGE.${dlq}`,
      `$JS.API.STREAM.DELETE.${dlq}`,
    ]) {
      await expect(operator.request(api, '{}', { timeout: 2_000 }), api).rejects.toThrow(/permissions violation/i);
    }
  });

  it('keeps serving after the attempts: a new registration is confirmed and the system is consistent', async () => {
    const instructor = await sys.token('INSTRUCTOR', 'i-bus-2');
    const lecture = await sys.openLecture(instructor, 'After the attack');
    await sys.waitForCatalog(lecture);
    const reg = await sys.register(lecture, await sys.token('STUDENT', 's-bus-2'));
    expect(reg.status).toBe('CONFIRMED');
    await sys.assertConsistent();
  });
});

describe('deploy/nats.conf', () => {
  const file = fileURLToPath(new URL('../../deploy/nats.conf', import.meta.url));

  it('is the generated configuration (run `npm run nats:config -- --write` after changing BUS)', () => {
    expect(readFileSync(file, 'utf8')).toBe(deploymentNatsConfig());
  });

  it('has the same users and permissions in the NATS Helm chart values for Kubernetes (deploy/k8s/infra/nats-values.yaml)', () => {
    const values = readFileSync(fileURLToPath(new URL('../../deploy/k8s/infra/nats-values.yaml', import.meta.url)), 'utf8');
    expect(values).toBe(natsHelmValues());
    const parsed = parseYaml(values);
    expect(parsed.config).toMatchObject({ cluster: { enabled: true, replicas: 3 }, jetstream: { enabled: true } });
    const auth: string = parsed.configMap.merge.data['auth.conf'];
    expect(auth).toBe(deploymentNatsConfig().slice(deploymentNatsConfig().indexOf('authorization {')));
    for (const s of BUS_SERVICES) expect(parsed.container.env[natsPasswordVariable(s)].valueFrom.secretKeyRef.name).toBe('nats-users');
  });

  it("starts a server that takes each service's password from its environment and refuses the rest", async () => {
    const bin = natsServerBinary();
    expect(bin, 'a nats-server binary').toBeTruthy();
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-deploy-'));
    const conf = path.join(dir, 'nats.conf');
    writeFileSync(
      conf,
      deploymentNatsConfig({ listen: `127.0.0.1:${port}`, storeDir: path.join(dir, 'store') }).replace(/http_port: \d+\n/, ''),
    );
    const env = Object.fromEntries(
      ([...BUS_SERVICES, OPERATOR_USER] as Array<Parameters<typeof natsPasswordVariable>[0]>).map((s) => [
        natsPasswordVariable(s),
        `pw-${s}-${'x'.repeat(24)}`,
      ]),
    );
    const child = spawn(bin!, ['-c', conf], { env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      await eventually(() => portOpen(port), 10_000, 'nats-server from deploy/nats.conf');
      const nc = await connect({
        servers: `127.0.0.1:${port}`,
        user: 'payment',
        pass: env[natsPasswordVariable('payment')],
        inboxPrefix: inboxPrefixOf('payment'),
      });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'PAYMENT', subjects: ['payment.>'] });
      await expect(jsm.streams.add({ name: 'REGISTRATION', subjects: ['registration.>'] })).rejects.toThrow(/permissions violation/i);
      await nc.close();
      await expect(connect({ servers: `127.0.0.1:${port}`, user: 'payment', pass: 'wrong', timeout: 2_000 })).rejects.toThrow(/authoriz/i);
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('NATS over TLS', () => {
  const hasOpenssl = toolAvailable('openssl', spawnSync('openssl', ['version']).status === 0, 'apt-get install openssl');

  it.skipIf(!hasOpenssl)("connects a service that trusts the server's CA (NATS_TLS_CA_FILE), and no client that does not", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-tls-'));
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) => expect(spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' }).status, args.join(' ')).toBe(0);
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl('req', '-x509', ...key, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test-ca');
    ssl('req', ...key, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
    writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl(
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('server.pem'),
      '-days',
      '1',
      '-extfile',
      f('san.ext'),
    );
    const server = await startOwnNatsServer({ tls: { certFile: f('server.pem'), keyFile: f('server.key') } });
    try {
      const config = { ...server.credentials('payment'), NATS_TLS_CA_FILE: f('ca.pem') };
      const nc = await connectNats(server.url, 'payment', createLogger('tls-test', 'silent'), natsAuthOf(config));
      expect(nc.info?.tls_required).toBe(true);
      await nc.close();
      await expect(
        connectNats(server.url, 'payment', createLogger('tls-test', 'silent'), natsAuthOf(server.credentials('payment')), 2_000),
      ).rejects.toThrow();
    } finally {
      await server.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
