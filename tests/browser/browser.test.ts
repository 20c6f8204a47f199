/**
 * In a real browser (Debian's headless Chromium driven by playwright-core): GraphiQL loads
 * with no request leaving the machine and runs a subscription that receives an event
 * triggered by a mutation; the student page shows a status change live, without reloading, and
 * resumes through a restarted gateway.
 * Screenshots go to test-results/. Skipped when no Chromium is installed (CHROMIUM_PATH or
 * /usr/bin/chromium; `npm test` installs Debian's chromium where it can).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlOk } from '@courses/devkit/graphql-client';
import { startIdentityProvider, type RunningIdentityProvider } from '@courses/identity-provider';
import { toolAvailable } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway } from '../../gateway/src/app.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = toolAvailable('chromium', existsSync(executablePath), 'npm test installs Debian’s as root; or set CHROMIUM_PATH');
const shots = fileURLToPath(new URL('../../test-results/', import.meta.url));

let sys: TestSystem;
let idp: RunningIdentityProvider;
let browser: Browser;
let instructor: string;
const external: string[] = [];

/** A page whose requests may only go to this machine; anything else is recorded and aborted. */
async function localPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === 'localhost') return route.continue();
    external.push(route.request().url());
    return route.abort();
  });
  return page;
}

/**
 * Opens `path` (`/app?user=<sub>` or `/app/instructor?user=<sub>`) at `base`: the page starts
 * signing in with the identity provider (the person suggested), the provider's page is answered
 * by picking that person, and the page comes back signed in and live.
 */
async function signedIn(page: Page, base: string, path: string): Promise<void> {
  const sub = new URL(path, base).searchParams.get('user')!;
  await page.goto(`${base}${path}`);
  await page.locator(`button[name="login"][value="${sub}"]`).click({ timeout: 15_000 });
  await page
    .locator('#who', { hasText: sub })
    .waitFor({ timeout: 15_000 })
    .catch(async (e) => {
      throw new Error(`${(e as Error).message}\nat ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 800)}`);
    });
  await page.locator('#conn.live').waitFor({ timeout: 15_000 });
}

/** The people the pages sign in as (instructors by their `i-` prefix). */
const PEOPLE = ['s-graphiql-idp', 's-browser-2', 's-console', 's-waiting', 's-brief', 's-browser-resume', 'i-console', 'i-browser'];

async function openReplicated(title: string) {
  const id = await sys.openLecture(instructor, title, 20, 45_000);
  await sys.waitForCatalog(id);
  return id;
}
const registerWhenReplicated = (lectureId: string, token: string) => sys.register(lectureId, token);

describe.skipIf(!hasChromium)('in a browser', () => {
  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    // The pages sign in through an identity provider (Authorization Code + PKCE); the test's own
    // calls use shared-secret tokens, accepted too, by name. s-brief's tokens live 30 s.
    idp = await startIdentityProvider({
      users: PEOPLE.map((sub) => ({ sub, name: sub, roles: [sub.startsWith('i-') ? 'INSTRUCTOR' : 'STUDENT'] })),
      accessTokenTtlSeconds: (sub) => (sub === 's-brief' ? 30 : 3600),
    });
    sys = await startSystem({
      gateway: { OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: idp.audience, AUTH_MODE: 'oidc+shared-secret' },
      logLevel: process.env.TEST_LOG_LEVEL ?? 'error',
    });
    idp.allowRedirects(['/app', '/app/instructor', '/graphql'].map((p) => `${sys.url}${p}`));
    instructor = await sys.token('INSTRUCTOR', 'i-browser');
    browser = await chromium.launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
    await idp?.stop();
  });

  it('GraphiQL loads offline and a subscription in it receives the event a mutation triggers', async () => {
    const lectureId = await openReplicated('Browser Subscriptions 101');
    const page = await localPage();
    await page.goto(`${sys.url}/graphql`);
    await page.waitForSelector('.graphiql-container .monaco-editor');
    await page.locator('.monaco-editor').first().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(`subscription Watch { lectureUpdated(lectureId: "${lectureId}") { id title status enrolledCount } }`);
    // Close the editor's suggestions, and let GraphiQL pick up the new operation name first.
    await page.keyboard.press('Escape');
    await page.locator('.graphiql-tab', { hasText: 'Watch' }).waitFor();
    await page.locator('.graphiql-execute-button').click();
    // Live events are not replayed: trigger the change only once the subscription is active.
    await eventually(async () => sys.gateway.hub.openSubscriptions > 0, 15_000, 'GraphiQL subscription active at the gateway');
    await registerWhenReplicated(lectureId, await sys.token('STUDENT', 's-browser-1'));
    // Monaco renders spaces as no-break spaces.
    const responseText = async () => (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
    await expect.poll(responseText, { timeout: 15_000 }).toContain('"enrolledCount": 1');
    expect(await responseText()).toContain('Browser Subscriptions 101');
    await page.screenshot({ path: `${shots}graphiql-subscription.png` });
    expect(external).toEqual([]);
    await page.close();
  });

  it("GraphiQL's header editor authenticates a subscription to the student's own registrations", async () => {
    const lectureId = await openReplicated('Authenticated in GraphiQL');
    const token = await sys.token('STUDENT', 's-graphiql');
    const page = await localPage();
    await page.addInitScript((t) => localStorage.setItem('graphiql:headers', JSON.stringify({ Authorization: `Bearer ${t}` })), token);
    await page.goto(`${sys.url}/graphql`);
    await page.waitForSelector('.graphiql-container .monaco-editor');
    await page.locator('.monaco-editor').first().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(
      'subscription Mine { registrationStatusChanged { id studentId status payment { status } lecture { title } } }',
    );
    await page.keyboard.press('Escape');
    await page.locator('.graphiql-tab', { hasText: 'Mine' }).waitFor();
    await page.locator('.graphiql-execute-button').click();
    await eventually(async () => sys.gateway.hub.openSubscriptions >= 2, 15_000, 'subscription active');
    await registerWhenReplicated(lectureId, token);
    const text = async () => (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
    await expect.poll(text, { timeout: 15_000 }).toContain('"studentId": "s-graphiql"');
    expect(await text()).toContain('Authenticated in GraphiQL');
    await page.screenshot({ path: `${shots}graphiql-authenticated-subscription.png` });
    await page.close();
  });

  it('GraphiQL signs in through the identity provider and puts the token in its Headers tab', async () => {
    const page = await localPage();
    await page.goto(`${sys.url}/graphql?user=s-graphiql-idp`);
    await page.locator('button[name="login"][value="s-graphiql-idp"]').click({ timeout: 30_000 });
    // Back on GraphiQL (a 9 MB page, loaded twice: for the code, then drawn with the token):
    // seconds each on a busy machine.
    await page
      .locator('#who', { hasText: 's-graphiql-idp' })
      .waitFor({ timeout: 60_000 })
      .catch(async (e) => {
        throw new Error(`${(e as Error).message}\nat ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 600)}`);
      });
    await page.waitForSelector('.graphiql-container .monaco-editor');
    await page.locator('.monaco-editor').first().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('query Me { myRegistrations { id } myDashboard { registrationId } }');
    await page.keyboard.press('Escape');
    await page.locator('.graphiql-tab', { hasText: 'Me' }).waitFor();
    await page.locator('.graphiql-execute-button').click();
    const text = async () => (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
    await expect.poll(text, { timeout: 15_000 }).toContain('"myRegistrations": []');
    expect(await text()).not.toContain('UNAUTHENTICATED');
    await page.screenshot({ path: `${shots}graphiql-signed-in.png` });
    expect(external).toEqual([]);
    await page.close();
  }, 120_000);

  it('the student page shows a registration canceled elsewhere, live, and tells it in the inbox until read', async () => {
    const lectureId = await openReplicated('Live Status Changes');
    const page = await localPage();
    await signedIn(page, sys.url, `/app?user=s-browser-2`);
    const row = page.locator(`tr[data-lecture-id="${lectureId}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: 'Register' }).click();
    const mine = page.locator('#mine tbody tr', { hasText: 'Live Status Changes' });
    await expect.poll(async () => (await mine.locator('.status').innerText()).trim(), { timeout: 15_000 }).toBe('CONFIRMED');
    const registrationId = (await mine.getAttribute('data-registration-id'))!;
    // Canceled from outside the page: the instructor cancels the lecture.
    await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id: lectureId }, instructor);
    const row2 = page.locator(`#mine tr[data-registration-id="${registrationId}"]`);
    await expect.poll(async () => await row2.innerText(), { timeout: 15_000 }).toContain('LECTURE_CANCELED');
    await expect.poll(async () => (await row2.locator('.payment').innerText()).trim(), { timeout: 15_000 }).toBe('REFUNDED');
    expect(await page.locator('#log').innerText()).toContain('CANCELED (LECTURE_CANCELED)');
    // The dashboard (the read model) follows, and the canceled lecture leaves the open catalog.
    const entry = page.locator(`#dashboard tr[data-entry-id="${registrationId}"]`);
    await expect.poll(async () => (await entry.count()) && (await entry.innerText()), { timeout: 15_000 }).toContain('REFUNDED');
    await expect.poll(async () => await page.locator(`tr[data-lecture-id="${lectureId}"]`).count(), { timeout: 15_000 }).toBe(0);
    // The inbox: the confirmation, the cancellation (and why) and the refund arrive live, counted until read.
    const unread = async () => (await page.locator('#unread').innerText()).trim();
    await expect.poll(unread, { timeout: 15_000 }).toBe('3');
    expect(await page.locator('#inbox').innerText()).toContain('instructor canceled the lecture');
    expect(await page.locator('#inbox li.unread').count()).toBe(3);
    await page.screenshot({ path: `${shots}student-page-live.png` });
    await page.locator('#mark-read').click();
    await expect.poll(unread, { timeout: 15_000 }).toBe('0');
    expect(await page.locator('#inbox li.unread').count()).toBe(0);
    expect(external).toEqual([]);
    await page.close();
  });
  it('the instructor console and the student page side by side: a registration appears live for the instructor, the lecture canceled there reaches the student live', async () => {
    const instructorPage = await localPage();
    await signedIn(instructorPage, sys.url, `/app/instructor?user=i-console`);
    // Opening with a bad input says what is wrong next to the field; then a good one opens it.
    const form = instructorPage.locator('form.open');
    await form.locator('input[name=title]').fill('   ');
    await form.getByRole('button', { name: 'Open' }).click();
    await expect
      .poll(async () => await form.locator('.error[data-for=title]').innerText(), { timeout: 15_000 })
      .toContain('must not be empty');
    await form.locator('input[name=title]').fill('Console Lecture');
    await form.locator('input[name=capacity]').fill('5');
    await form.locator('input[name=price]').fill('20000');
    await form.getByRole('button', { name: 'Open' }).click();
    const lecture = instructorPage.locator('.lecture', { hasText: 'Console Lecture' });
    await lecture.waitFor({ timeout: 15_000 });
    const lectureId = (await lecture.getAttribute('data-lecture-id'))!;
    await sys.waitForCatalog(lectureId);

    // The student registers in their own tab; the instructor sees it without reloading.
    const studentPage = await localPage();
    await signedIn(studentPage, sys.url, `/app?user=s-console`);
    const row = studentPage.locator(`tr[data-lecture-id="${lectureId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: 'Register' }).click();
    const registration = lecture.locator('tbody tr', { hasText: 's-console' });
    await expect
      .poll(async () => (await registration.count()) && (await registration.locator('.status').innerText()), { timeout: 15_000 })
      .toContain('CONFIRMED');
    await expect.poll(async () => (await lecture.locator('.enrolled').innerText()).trim(), { timeout: 15_000 }).toBe('1/5');

    // The instructor cancels the lecture: both tabs follow live.
    await lecture.getByRole('button', { name: 'Cancel lecture' }).click();
    await expect.poll(async () => await registration.locator('.status').innerText(), { timeout: 15_000 }).toContain('LECTURE_CANCELED');
    await expect.poll(async () => await lecture.locator('h3').innerText(), { timeout: 15_000 }).toContain('CANCELED');
    const mine = studentPage.locator('#mine tbody tr', { hasText: 'Console Lecture' });
    await expect.poll(async () => await mine.innerText(), { timeout: 15_000 }).toContain('LECTURE_CANCELED');
    await expect.poll(async () => (await mine.locator('.payment').innerText()).trim(), { timeout: 15_000 }).toBe('REFUNDED');
    await instructorPage.screenshot({ path: `${shots}instructor-console.png` });
    expect(external).toEqual([]);
    await Promise.all([instructorPage.close(), studentPage.close()]);
  });
  it('a full lecture: the student page joins its waitlist and shows the place move up live; the console shows the waitlist length; a freed seat enrolls the student', async () => {
    // Two seats, so two places in line (a waitlist holds as many as the lecture has seats).
    const id = await sys.openLecture(instructor, 'Full Lecture', 2, 15_000);
    await sys.waitForCatalog(id);
    const holder = await sys.token('STUDENT', 's-seat-holder');
    const seat = await registerWhenReplicated(id, holder);
    await registerWhenReplicated(id, await sys.token('STUDENT', 's-seat-holder-2'));
    // Someone is in line already: the page's student is second.
    const first = await gqlOk(
      sys.url,
      `mutation($id: ID!) { registerForLecture(lectureId: $id, waitlistIfFull: true) { id status } }`,
      { id },
      await sys.token('STUDENT', 's-first-in-line'),
    );
    expect(first.registerForLecture.status).toBe('WAITLISTED');

    const console_ = await localPage();
    await signedIn(console_, sys.url, `/app/instructor?user=i-browser`);
    const lecture = console_.locator(`.lecture[data-lecture-id="${id}"]`);
    await expect
      .poll(async () => (await lecture.count()) && (await lecture.locator('.waitlist').innerText()), { timeout: 15_000 })
      .toBe('1 waiting');

    const page = await localPage();
    await signedIn(page, sys.url, `/app?user=s-waiting`);
    const row = page.locator(`tr[data-lecture-id="${id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: 'Join waitlist' }).click();
    const mine = page.locator('#mine tbody tr', { hasText: 'Full Lecture' });
    await expect
      .poll(async () => (await mine.count()) && (await mine.locator('.status').innerText()), { timeout: 15_000 })
      .toContain('WAITLISTED #2');
    await expect.poll(async () => await lecture.locator('.waitlist').innerText(), { timeout: 15_000 }).toBe('2 waiting');
    // The first in line leaves: the page's place moves up, live.
    await gqlOk(
      sys.url,
      `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`,
      { id: first.registerForLecture.id },
      await sys.token('STUDENT', 's-first-in-line'),
    );
    await expect.poll(async () => await mine.locator('.status').innerText(), { timeout: 15_000 }).toContain('WAITLISTED #1');
    await page.screenshot({ path: `${shots}student-page-waitlist.png` });
    // The seat frees: the student is enrolled (charged then), live, and the console's line empties.
    await gqlOk(sys.url, `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`, { id: seat.id }, holder);
    await expect.poll(async () => (await mine.locator('.status').innerText()).trim(), { timeout: 15_000 }).toBe('CONFIRMED');
    await expect.poll(async () => (await mine.locator('.payment').innerText()).trim(), { timeout: 15_000 }).toBe('COMPLETED');
    await expect.poll(async () => await lecture.locator('.waitlist').innerText(), { timeout: 15_000 }).toBe('0 waiting');
    await console_.screenshot({ path: `${shots}instructor-console-waitlist.png` });
    expect(external).toEqual([]);
    await Promise.all([page.close(), console_.close()]);
  });
  it('the student page renews its token before it expires (the refresh token), resumes its subscriptions, and stays live', async () => {
    // s-brief's access tokens live 30 s: the page renews at three quarters of that.
    const before = await sys.openLecture(instructor, 'Before Renewal', 5, 10_000);
    const after = await sys.openLecture(instructor, 'After Renewal', 5, 10_000);
    await Promise.all([sys.waitForCatalog(before), sys.waitForCatalog(after)]);
    const token = await sys.token('STUDENT', 's-brief');
    const page = await localPage();
    let renewals = 0;
    page.on('request', (r) => {
      if (r.url() === `${idp.issuer}/token` && (r.postData() ?? '').includes('grant_type=refresh_token')) renewals++;
    });
    try {
      const listening = sys.gateway.hub.listeners;
      await signedIn(page, sys.url, '/app?user=s-brief');
      // Both of the page's subscriptions listening (its registrations: two contexts; its inbox: one),
      // then something arrives live, so that each has a position to resume from.
      await eventually(async () => sys.gateway.hub.listeners >= listening + 3, 15_000, "the page's subscriptions listening");
      await registerWhenReplicated(before, token);
      await expect.poll(async () => await page.locator('#inbox').innerText(), { timeout: 15_000 }).toContain('Before Renewal');
      expect(renewals).toBe(0);
      await expect.poll(() => renewals, { timeout: 40_000 }).toBeGreaterThan(0);
      const log = page.locator('#log');
      await expect.poll(async () => await log.innerText(), { timeout: 15_000 }).toContain('the token was renewed before it expired');
      await page.locator('#conn.live').waitFor({ timeout: 15_000 });
      // A renewal is the same person: the page resumed where it was, and read nothing again.
      await expect.poll(async () => await log.innerText(), { timeout: 15_000 }).toContain('reconnected: resuming from the last update');
      expect(await log.innerText()).not.toContain('reading again');
      // And it still receives its events with the renewed token.
      await registerWhenReplicated(after, token);
      await expect.poll(async () => await page.locator('#mine').innerText(), { timeout: 15_000 }).toContain('After Renewal');
      expect(external).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);

  // Last in this file: it takes the system's gateway down for good.
  it('the student page resumes through a restarted gateway: what happened while it was away arrives in order, nothing is read again', async () => {
    const lectureId = await openReplicated('Resumed After Restart');
    const page = await localPage();
    const before = sys.gateway.hub.listeners;
    await signedIn(page, sys.url, `/app?user=s-browser-resume`);
    // Both of the page's subscriptions listening (its registrations: two contexts; its inbox: one).
    await eventually(async () => sys.gateway.hub.listeners >= before + 3, 15_000, "the page's subscriptions listening");
    const row = page.locator(`tr[data-lecture-id="${lectureId}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: 'Register' }).click();
    const mine = page.locator('#mine tbody tr', { hasText: 'Resumed After Restart' });
    await expect.poll(async () => (await mine.locator('.status').innerText()).trim(), { timeout: 15_000 }).toBe('CONFIRMED');
    const registrationId = (await mine.getAttribute('data-registration-id'))!;
    // Both of the page's subscriptions have a position (the confirmation, and its notification).
    await expect.poll(async () => (await page.locator('#unread').innerText()).trim(), { timeout: 15_000 }).toBe('1');
    await expect
      .poll(async () => await page.locator('#log').innerText(), { timeout: 15_000 })
      .toContain('Resumed After Restart: CONFIRMED');

    // The gateway goes away (a rolling update); meanwhile the student cancels from another client.
    const port = sys.gateway.port;
    await sys.gateway.stop();
    await expect.poll(async () => await page.locator('#conn').innerText(), { timeout: 15_000 }).toContain('offline');
    const other = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    const token = await sys.token('STUDENT', 's-browser-resume');
    await gqlOk(other.url, `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`, { id: registrationId }, token);
    await other.stop();
    // A new gateway on the same address; the page reconnects and resumes.
    const back = await startGateway({ ...sys.envOf('gateway'), PORT: String(port) });
    try {
      await page.locator('#conn.live').waitFor({ timeout: 30_000 });
      const row2 = page.locator(`#mine tr[data-registration-id="${registrationId}"]`);
      await expect.poll(async () => await row2.innerText(), { timeout: 15_000 }).toContain('STUDENT_REQUEST');
      await expect.poll(async () => (await row2.locator('.payment').innerText()).trim(), { timeout: 15_000 }).toBe('REFUNDED');
      // Both notifications missed while away come with the resume (or live, as they are stored),
      // whichever order the dashboard stored them in (two consumers write them: once the
      // refund's, stored first with a later time, was lost from the replay; see mergeByTime).
      await expect.poll(async () => await page.locator('#inbox').innerText(), { timeout: 15_000 }).toContain('canceled as you asked');
      await expect.poll(async () => (await page.locator('#unread').innerText()).trim(), { timeout: 30_000 }).toBe('3');
      const log = await page.locator('#log').innerText();
      expect(log).toContain('reconnected: resuming from the last update');
      expect(log).not.toContain('reading again');
      // Delivered as they happened: canceled with the payment still taken, then refunded.
      expect(log).toMatch(
        /CANCELED \(STUDENT_REQUEST\), payment COMPLETED[\s\S]*CANCELED \(STUDENT_REQUEST\), payment REFUNDED|CANCELED \(STUDENT_REQUEST\), payment REFUNDED[\s\S]*CANCELED \(STUDENT_REQUEST\), payment COMPLETED/,
      );
      await page.screenshot({ path: `${shots}student-page-resumed.png` });
      expect(external).toEqual([]);
    } finally {
      await page.close();
      await back.stop();
    }
  });
});
