/**
 * `npm run nats:config`: the nats-server configuration of this system's event bus, one user per
 * service with the permissions of its role (BUS in @courses/contracts; platform/src/messaging/nats-auth.ts).
 *
 *   npm run nats:config                 the deployment's config, passwords read from the server's
 *                                       environment (NATS_<SERVICE>_PASSWORD), to stdout
 *   npm run nats:config -- --write      the same into deploy/nats.conf (what docker-compose.yml mounts)
 *                                       and deploy/k8s/infra/nats-values.yaml (the NATS Helm chart's
 *                                       values for Kubernetes); a test checks that both are current
 *   npm run nats:config -- --dev        with this checkout's dev passwords (.data/dev-secrets.json), for
 *                                       a server of your own given to `npm start` in NATS_URL
 * Options: --namespace <ns> (NATS_NAMESPACE of the services), --listen <host:port>.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { devSecrets, ensureBuilt, natsAuth, ROOT } from '#devkit/provision';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);

ensureBuilt();
const { deploymentNatsConfig, natsHelmValues, natsServerConfig, natsUsers } = await natsAuth();
const namespace = opt('--namespace', '');
let text;
if (args.includes('--dev')) {
  const { NATS_PASSWORDS } = devSecrets();
  text = natsServerConfig({ listen: opt('--listen', '127.0.0.1:4222'), users: natsUsers((s) => NATS_PASSWORDS[s], namespace) });
} else {
  text = deploymentNatsConfig({ namespace, listen: opt('--listen', undefined) });
}
if (args.includes('--write')) {
  writeFileSync(path.join(ROOT, 'deploy', 'nats.conf'), text);
  writeFileSync(path.join(ROOT, 'deploy', 'k8s', 'infra', 'nats-values.yaml'), natsHelmValues({ namespace }));
  process.stdout.write('wrote deploy/nats.conf and deploy/k8s/infra/nats-values.yaml\n');
} else process.stdout.write(text);
