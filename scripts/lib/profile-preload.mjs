/**
 * A CPU profiler a benchmark can switch on and off in a running service, for the window it
 * measures: preload it (`node --import ./scripts/lib/profile-preload.mjs …`, or in NODE_OPTIONS,
 * which refuses `--cpu-prof`), then send SIGUSR2 once to start profiling and once more to stop
 * and write `<PROFILE_DIR>/<PROFILE_NAME>-<pid>.cpuprofile` (`-<pid>-2` for the second window, …) (node:inspector's Profiler domain;
 * format: https://chromedevtools.github.io/devtools-protocol/tot/Profiler/). Samples every
 * PROFILE_INTERVAL_US µs (default 500). Plain Node, no dependencies.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.PROFILE_DIR ?? '.data/profiles';
const name = process.env.PROFILE_NAME ?? 'service';
const session = new Session();
session.connect();
let running = false;
/** Profiles written so far: the second and later of one process get `-2`, `-3`, … */
let written = 0;

const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));

process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    void post('Profiler.enable')
      .then(() => post('Profiler.setSamplingInterval', { interval: Number(process.env.PROFILE_INTERVAL_US ?? 500) }))
      .then(() => post('Profiler.start'));
    return;
  }
  running = false;
  void post('Profiler.stop').then(({ profile }) => {
    mkdirSync(dir, { recursive: true });
    written++;
    const file = `${name}-${process.pid}${written > 1 ? `-${written}` : ''}.cpuprofile`;
    writeFileSync(path.join(dir, file), JSON.stringify(profile));
  });
});
