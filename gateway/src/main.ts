/** Process entry point of the gateway (tracing starts first: see @courses/platform/entry). */
import cluster from 'node:cluster';
import { runService } from '@courses/platform/entry';

// GATEWAY_WORKERS=N > 1: this process supervises N gateway workers sharing the port (workers.ts).
// Read raw here so that a single gateway loads nothing before its tracing starts; validated below.
if (cluster.isPrimary && (process.env.GATEWAY_WORKERS ?? '1').trim() !== '1') {
  const [{ createLogger, loadConfig }, { gatewayEnv }, { superviseWorkers }] = await Promise.all([
    import('@courses/platform'),
    import('./config.js'),
    import('./workers.js'),
  ]);
  const logger = createLogger('gateway');
  const config = loadConfig(gatewayEnv, process.env, { PORT: '4000' });
  if (!config.REDIS_URL)
    logger.warn({ workers: config.GATEWAY_WORKERS }, 'no REDIS_URL: each gateway worker counts rate limits and connection caps alone');
  superviseWorkers(config.GATEWAY_WORKERS, logger);
} else {
  await runService('gateway', async () => {
    const { startGateway } = await import('./app.js');
    const gateway = await startGateway();
    return { service: gateway, logger: gateway.logger };
  });
  // Benchmarks start the gateway with --expose-gc and send SIGUSR2 to measure memory after a full
  // collection; without that flag the signal keeps Node's default meaning.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) process.on('SIGUSR2', () => gc());
}
