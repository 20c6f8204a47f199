/** Contract checks: the subgraphs compose, the checked-in supergraph is current, the API keeps its fixed names. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildASTSchema, parse, validate, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { toolAvailable } from '@courses/test-kit/env';
import { pageOperations } from '../../gateway/src/app.js';
import { composeSupergraph, supergraphPath } from '../../schema/scripts/compose.mjs';
import { derivedSecrets } from '../../scripts/derive-secrets.mjs';

const composed = composeSupergraph() as { supergraphSdl?: string; errors?: string[] };

describe('supergraph composition', () => {
  it('composes the four subgraph SDLs without errors', () => {
    expect(composed.errors).toBeUndefined();
    expect(composed.supergraphSdl).toContain('@join__graph(name: "dashboard"');
  });

  it('matches the checked-in schema/supergraph.graphql (run `npm run compose` after changing a schema)', () => {
    expect(readFileSync(supergraphPath, 'utf8')).toBe(composed.supergraphSdl);
  });

  it('keeps the public API fixed by the product (names, arguments, types)', () => {
    const schema = buildASTSchema(parse(composed.supergraphSdl!), { assumeValidSDL: true });
    const fields = (t: string) => (schema.getType(t) as GraphQLObjectType).getFields();
    const sig = (t: string, f: string) => {
      const field = fields(t)[f];
      const args = field.args.map((a) => `${a.name}: ${a.type}`).join(', ');
      return `${f}${args ? `(${args})` : ''}: ${field.type}`;
    };
    expect(sig('Query', 'lecture')).toBe('lecture(id: ID!): Lecture');
    expect(sig('Query', 'lectures')).toBe('lectures(first: Int, after: String, status: LectureStatus): LectureConnection!');
    expect(sig('Query', 'registration')).toBe('registration(id: ID!): Registration');
    expect(sig('Query', 'myRegistrations')).toBe('myRegistrations: [Registration!]!');
    expect(sig('Query', 'myDashboard')).toBe('myDashboard: [DashboardEntry!]!');
    expect(sig('Mutation', 'openLecture')).toBe('openLecture(input: OpenLectureInput!): Lecture!');
    expect(sig('Mutation', 'cancelLecture')).toBe('cancelLecture(id: ID!): Lecture!');
    expect(sig('Mutation', 'registerForLecture')).toBe('registerForLecture(lectureId: ID!, waitlistIfFull: Boolean): Registration!');
    expect(sig('Mutation', 'cancelRegistration')).toBe('cancelRegistration(id: ID!): Registration!');
    expect(sig('Subscription', 'registrationStatusChanged')).toBe(
      'registrationStatusChanged(registrationId: ID, current: Boolean): Registration!',
    );
    expect(sig('Subscription', 'lectureUpdated')).toBe('lectureUpdated(lectureId: ID!, current: Boolean): Lecture!');
    expect(Object.keys(fields('Lecture'))).toEqual(
      expect.arrayContaining([
        'id',
        'title',
        'instructorId',
        'capacity',
        'price',
        'status',
        'enrolledCount',
        'registrations',
        'waitlistLength',
      ]),
    );
    expect(Object.keys(fields('Registration'))).toEqual(
      expect.arrayContaining([
        'id',
        'studentId',
        'lecture',
        'status',
        'cancellationReason',
        'waitlistPosition',
        'payment',
        'createdAt',
        'updatedAt',
      ]),
    );
    expect(Object.keys(fields('Payment'))).toEqual(expect.arrayContaining(['id', 'amount', 'status']));
    expect(Object.keys(fields('DashboardEntry'))).toEqual(
      expect.arrayContaining(['registrationId', 'lectureTitle', 'registrationStatus', 'paymentStatus', 'updatedAt']),
    );
  });
});

describe("the student page's operations (gateway/public/operations.graphql)", () => {
  const schema = buildASTSchema(parse(composed.supergraphSdl!), { assumeValidSDL: true });

  it('validate against the supergraph, every one of them', () => {
    const text = readFileSync(new URL('../../gateway/public/operations.graphql', import.meta.url), 'utf8');
    expect(validate(schema, parse(text)).map((e) => e.message)).toEqual([]);
    const ops = pageOperations();
    expect(Object.keys(ops).sort()).toEqual([
      'CancelLecture',
      'CancelRegistration',
      'Catalog',
      'LectureChanges',
      'ManagedLectures',
      'ManagedRegistrationChanges',
      'MarkNotificationsRead',
      'MyDashboard',
      'MyInbox',
      'MyRegistrationChanges',
      'MyRegistrations',
      'NotificationReceived',
      'OpenLecture',
      'Register',
    ]);
    // Each one is a document of its own, with the fragments it uses, valid alone.
    for (const [name, doc] of Object.entries(ops))
      expect(
        validate(schema, parse(doc)).map((e) => e.message),
        name,
      ).toEqual([]);
    expect(ops.Register).toContain('fragment RegistrationView on Registration');
    expect(ops.Catalog).not.toContain('fragment');
  });

  it('would fail on an operation the supergraph no longer serves', () => {
    expect(validate(schema, parse('query Gone { myRegistrations { id grade } }')).map((e) => e.message)).toEqual([
      'Cannot query field "grade" on type "Registration".',
    ]);
  });
});

describe('typed resolvers', () => {
  it('subgraphs/*/src/generated matches the schemas (run `npm run codegen` after changing a schema)', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const cli = fileURLToPath(new URL('../../node_modules/@graphql-codegen/cli/cjs/bin.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, '--config', 'codegen.ts', '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('docker-compose.yml', () => {
  const hasCompose = toolAvailable(
    'docker-compose',
    spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0,
    'apt-get install docker-compose (Debian’s needs no Docker engine; .ci/run installs it)',
  );
  const file = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
  const services = ['registration', 'payment', 'lecture', 'dashboard', 'gateway'];
  const natsPasswords = Object.fromEntries([...services, 'operator'].map((s) => [`NATS_${s.toUpperCase()}_PASSWORD`, `pw-${s}`.repeat(8)]));
  const derived = Object.fromEntries(derivedSecrets('a'.repeat(64)));
  const mongoPasswords = Object.fromEntries(services.slice(0, 4).map((s) => [`MONGO_${s.toUpperCase()}_PASSWORD`, `db-${s}`.repeat(8)]));
  const secrets = { GATEWAY_SECRET: 'a'.repeat(64), JWT_SECRET: 'b'.repeat(64), ...natsPasswords, ...derived, ...mongoPasswords };
  const withoutSecrets = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in secrets)));
  it.skipIf(!hasCompose)(
    'parses (docker-compose config, no engine needed), each service connecting to NATS as its own user, and only the gateway holding its secret',
    () => {
      const r = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: { ...withoutSecrets, ...secrets } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      for (const s of services) {
        const block = r.stdout.split(/\n  (?=\S)/).find((b) => b.startsWith(`${s}:`));
        expect(block, s).toMatch(new RegExp(`NATS_USER: ${s}\\n`));
        expect(block, s).toContain(`NATS_PASSWORD: ${`pw-${s}`.repeat(8)}`);
        // Only the gateway holds GATEWAY_SECRET; each subgraph its own, derived from it.
        if (s === 'gateway') expect(block).toContain(`GATEWAY_SECRET: ${'a'.repeat(64)}`);
        else {
          expect(block, s).not.toContain('GATEWAY_SECRET:');
          expect(block, s).toContain(`SUBGRAPH_SECRET: ${derived[`${s.toUpperCase()}_SUBGRAPH_SECRET`]}`);
        }
      }
    },
  );
  it.skipIf(!hasCompose)('refuses to start without the NATS passwords', () => {
    const { GATEWAY_SECRET, JWT_SECRET } = secrets;
    const r = spawnSync('docker-compose', ['-f', file, 'config', '-q'], {
      encoding: 'utf8',
      env: { ...withoutSecrets, GATEWAY_SECRET, JWT_SECRET, ...derived, ...mongoPasswords },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set NATS_[A-Z]+_PASSWORD to 32\+ random bytes/);
  });
  it.skipIf(!hasCompose)('refuses to start without the secrets, saying how to make them', () => {
    const r = spawnSync('docker-compose', ['-f', file, 'config', '-q'], { encoding: 'utf8', env: withoutSecrets });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set [A-Z_]+ to 32\+ random bytes/);
  });
  it('restarts every service that stops, and gives each of ours the time its drain takes', () => {
    const compose = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as {
      services: Record<string, { restart?: string; stop_grace_period?: string; profiles?: string[] }>;
    };
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.profiles) continue; // the optional observability tools
      expect(svc.restart, name).toBe('unless-stopped');
    }
    // The drain's hard bound is 20 s (platform/src/service/lifecycle.ts).
    for (const s of services) expect(parseInt(compose.services[s].stop_grace_period ?? '10s', 10), s).toBeGreaterThanOrEqual(25);
  });
  it('lets each service reach only what it talks to: its own MongoDB (with its password), NATS, the subgraphs', () => {
    const compose = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as {
      services: Record<string, { networks?: string[]; ports?: string[]; environment?: Record<string, string> }>;
    };
    const peers = (name: string) => {
      const own = new Set(compose.services[name]!.networks ?? ['default']);
      return Object.entries(compose.services)
        .filter(([other, svc]) => other !== name && (svc.networks ?? ['default']).some((n) => own.has(n)))
        .map(([other]) => other)
        .sort();
    };
    for (const s of services.slice(0, 4)) {
      expect(peers(`mongo-${s}`), `mongo-${s}`).toEqual([s]);
      expect(compose.services[`mongo-${s}`]!.environment!.MONGO_INITDB_ROOT_PASSWORD).toContain(`MONGO_${s.toUpperCase()}_PASSWORD`);
      expect(compose.services[s]!.environment!.MONGODB_URI).toMatch(
        new RegExp(`^mongodb://${s}:\\$\\{MONGO_${s.toUpperCase()}_PASSWORD:\\?`),
      );
    }
    expect(peers('nats')).toEqual([...services].sort());
    // Only the gateway (and the optional local tools) publish a port; the subgraphs are not on its edge network.
    for (const s of services.slice(0, 4)) expect(compose.services[s]!.ports, s).toBeUndefined();
    expect(compose.services.gateway!.networks).toContain('edge');
    for (const s of services.slice(0, 4)) expect(compose.services[s]!.networks).not.toContain('edge');
  });
  it('publishes no NATS port: the event bus stays inside the compose network', () => {
    const compose = readFileSync(file, 'utf8');
    expect(compose).not.toMatch(/4222:4222/);
  });
});
