/**
 * `npm run scenario`: plays the original course-registration scenario (the 12 functional
 * requirements of requirements.md) against a running gateway, as a client would: HTTP for
 * queries and mutations, graphql-ws for live updates. Prints each step and what came back;
 * exits 1 at the first step that does not behave. GATEWAY_URL defaults to http://127.0.0.1:4000.
 * Each run uses fresh users, so it can be repeated.
 */
import { collect, eventually, gql, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { devSecrets } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';

const url = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000';
const secret = devSecrets().JWT_SECRET;
const run = Date.now().toString(36);
let step = 0;

function show(title: string, value: unknown): void {
  step++;
  process.stdout.write(`\n[${String(step).padStart(2)}] ${title}\n     ${JSON.stringify(value)}\n`);
}
function check(ok: unknown, what: string): void {
  if (!ok) {
    process.stderr.write(`\n✖ ${what}\n`);
    process.exit(1);
  }
}

const instructor = await issueToken({ sub: `i-demo-${run}`, role: 'INSTRUCTOR' }, secret);
const student = await issueToken({ sub: `s-demo-${run}`, role: 'STUDENT' }, secret);
const student2 = await issueToken({ sub: `s-demo2-${run}`, role: 'STUDENT' }, secret);

process.stdout.write(`Scenario against ${url} (run ${run})\n`);

const catalog = await gqlOk(
  url,
  `{ lectures(first: 3, status: OPEN) { totalCount edges { node { title price capacity enrolledCount } } } }`,
);
show('The public catalog (first 3 of the open lectures)', catalog.lectures);

const opened = (
  await gqlOk(
    url,
    `mutation($input: OpenLectureInput!) { openLecture(input: $input) { id title capacity price status enrolledCount } }`,
    {
      input: { title: `Federated GraphQL in Practice (${run})`, capacity: 3, price: 150_000 },
    },
    instructor,
  )
).openLecture;
show('FR6  Instructor opens a lecture', opened);
check(opened.status === 'OPEN', 'lecture not OPEN');

const ws = wsClient(url, student);
const live = collect(
  ws,
  `subscription { registrationStatusChanged { id status cancellationReason payment { status } lecture { title } } }`,
);
const lectureLive = collect(ws, `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id status enrolledCount } }`, { id: opened.id });
await new Promise((r) => setTimeout(r, 300));
show('FR12 Student subscribes over graphql-ws to their registrations and to the lecture', {
  registrationStatusChanged: 'listening',
  lectureUpdated: opened.id,
});

const REGISTER = `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status payment { id amount status } lecture { title } } }`;
const reg = await eventually(
  async () => {
    const r = await gql(url, REGISTER, { id: opened.id }, student);
    if (r.errors?.[0]?.extensions?.code === 'NOT_FOUND') return undefined; // not replicated to registration yet
    check(!r.errors, `registration failed: ${JSON.stringify(r.errors)}`);
    return r.data!.registerForLecture;
  },
  15_000,
  'lecture available for registration',
);
show('FR1  Student registers  +  FR2 pays the fee synchronously', reg);
check(reg.status === 'CONFIRMED' && reg.payment.status === 'COMPLETED', 'registration not confirmed and paid');

const again = await gql(url, REGISTER, { id: opened.id }, student);
show('     Registering twice is refused', again.errors?.[0]?.extensions);
check(again.errors?.[0]?.extensions?.code === 'ALREADY_REGISTERED', 'second registration not refused');

const LECTURE = `query($id: ID!) { lecture(id: $id) { title status enrolledCount registrations(first: 20) { totalCount edges { node { id status } } } } }`;
const counted = await eventually(
  async () => {
    const d = await gqlOk(url, LECTURE, { id: opened.id }, instructor);
    return d.lecture.enrolledCount === 1 ? d.lecture : undefined;
  },
  15_000,
  'enrolled count 1',
);
show('FR3  The lecture side learned of it  +  FR10 the instructor sees the enrolled count', counted);

const mine = await gqlOk(
  url,
  `{ myRegistrationsPage(first: 20) { totalCount edges { node { id status lecture { title } payment { amount status } } } } }`,
  {},
  student,
);
show('FR9  Student looks up their registrations (a page at a time)', mine.myRegistrationsPage);

const dash = await eventually(
  async () => {
    const d = await gqlOk(
      url,
      `{ myDashboardPage(first: 20) { edges { node { registrationId lectureTitle registrationStatus paymentStatus } } } }`,
      {},
      student,
    );
    const lines = d.myDashboardPage.edges.map((e: any) => e.node);
    return lines.find((e: any) => e.registrationId === reg.id && e.paymentStatus === 'COMPLETED') ? lines : undefined;
  },
  15_000,
  'dashboard entry',
);
show('FR11 Student dashboard (read model built from events)', dash);

const canceled = (
  await gqlOk(url, `mutation($id: ID!) { cancelRegistration(id: $id) { id status cancellationReason } }`, { id: reg.id }, student)
).cancelRegistration;
show('FR4  Student cancels the registration', canceled);
const refunded = await eventually(
  async () => {
    const d = await gqlOk(url, `query($id: ID!) { registration(id: $id) { status payment { amount status } } }`, { id: reg.id }, student);
    return d.registration.payment.status === 'REFUNDED' ? d.registration : undefined;
  },
  15_000,
  'refund',
);
show('FR5  Its payment is refunded', refunded);

const reg2 = (await gqlOk(url, REGISTER, { id: opened.id }, student2)).registerForLecture;
show('     A second student registers', { id: reg2.id, status: reg2.status });
const lectureCanceled = (await gqlOk(url, `mutation($id: ID!) { cancelLecture(id: $id) { id status } }`, { id: opened.id }, instructor))
  .cancelLecture;
show('FR7  Instructor cancels the lecture', lectureCanceled);
const cascaded = await eventually(
  async () => {
    const d = await gqlOk(
      url,
      `query($id: ID!) { registration(id: $id) { status cancellationReason payment { status } } }`,
      { id: reg2.id },
      student2,
    );
    return d.registration.payment.status === 'REFUNDED' ? d.registration : undefined;
  },
  15_000,
  'lecture-cancel cascade',
);
show("FR8  The second student's registration is canceled and refunded", cascaded);

const finalCount = await eventually(
  async () => {
    const d = await gqlOk(url, LECTURE, { id: opened.id }, instructor);
    return d.lecture.enrolledCount === 0 ? d.lecture : undefined;
  },
  15_000,
  'enrolled count back to 0',
);
show('FR10 Instructor sees the lecture canceled with no enrolment left', finalCount);

const finalLive = (r: any) =>
  r.data?.registrationStatusChanged?.status === 'CANCELED' && r.data.registrationStatusChanged.payment?.status === 'REFUNDED';
await eventually(async () => live.results.some(finalLive), 10_000, 'live update CANCELED/REFUNDED');
show(
  'FR12 Live updates the student received',
  live.results.map((r: any) => r.data?.registrationStatusChanged ?? r.errors),
);
show(
  'FR12 Live lecture updates',
  lectureLive.results.map((r: any) => r.data?.lectureUpdated ?? r.errors),
);
check(live.results[0]?.data?.registrationStatusChanged?.status === 'CONFIRMED', 'the first live update is not the confirmation');
live.stop();
lectureLive.stop();
await ws.dispose();
process.stdout.write(`\n✔ scenario complete: all 12 functional requirements behaved (${step} steps)\n`);
