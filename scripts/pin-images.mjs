#!/usr/bin/env node
/**
 * `npm run images:pin`: pins every container image the project names (each `FROM` of the
 * Dockerfile, each `image:` of docker-compose.yml and of the Kubernetes infra this project runs
 * itself) to the digest its tag points to now, as
 * `name:tag@sha256:<digest>`, so a build or `docker compose up` pulls exactly what was pinned.
 * `npm run images:pin -- --check` changes nothing and exits 1 when an image is not pinned.
 *
 * The digest is what the registry answers for the tag: the `Docker-Content-Digest` header of a
 * `HEAD /v2/<repository>/manifests/<tag>` asking for the multi-platform index first (OCI
 * Distribution Specification, "Pulling manifests"; https://github.com/opencontainers/distribution-spec),
 * with the anonymous Bearer token the registry's `WWW-Authenticate` challenge names (Docker's
 * token authentication, https://distribution.github.io/distribution/spec/auth/token/). Works for
 * Docker Hub (`node`, `nats`, `mongo`, `grafana/grafana`, ...) and other registries (`quay.io/…`).
 * Needs network access to the registries; the machine this project is built on has none.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The files whose images are pinned, each with the pattern of an image reference in it. */
export const IMAGE_FILES = [
  { file: 'Dockerfile', pattern: /^(FROM\s+)(\S+)/gm },
  { file: 'docker-compose.yml', pattern: /^(\s+image:\s+)(\S+)/gm },
  { file: 'deploy/k8s/infra/redis.yaml', pattern: /^(\s+image:\s+)(\S+)/gm },
];
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * Splits an image reference into registry, repository, tag and digest, with Docker's defaults
 * (`docker.io`, `library/` for official images, tag `latest`).
 * @param {string} ref e.g. `node:24-bookworm-slim`, `quay.io/keycloak/keycloak:26.0@sha256:…`
 */
export function parseImage(ref) {
  const [named, digest] = ref.split('@');
  const slash = named.indexOf('/');
  const first = slash < 0 ? '' : named.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = hasRegistry ? first : 'docker.io';
  let rest = hasRegistry ? named.slice(slash + 1) : named;
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') ? rest.slice(colon + 1) : 'latest';
  if (colon > rest.lastIndexOf('/')) rest = rest.slice(0, colon);
  const repository = registry === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  return { registry, repository, tag, digest, named };
}

/** Whether a `FROM` names an image rather than an earlier build stage (`FROM build`). */
const isImageRef = (ref) => ref.includes(':') || ref.includes('/');

/** Every image reference of the project's files: [{ file, ref }]. */
export function projectImages(root = ROOT) {
  return IMAGE_FILES.flatMap(({ file, pattern }) =>
    [...readFileSync(path.join(root, file), 'utf8').matchAll(pattern)]
      .map((m) => m[2])
      .filter(isImageRef)
      .map((ref) => ({ file, ref })),
  );
}

/**
 * The digest `tag` of `repository` points to on `registry`, e.g. `sha256:6f7b…`.
 * @throws when the registry refuses or names no digest.
 */
async function resolveDigest({ registry, repository, tag }) {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  const url = `https://${host}/v2/${repository}/manifests/${tag}`;
  let res = await fetch(url, { method: 'HEAD', headers: { accept: ACCEPT } });
  if (res.status === 401) {
    const challenge = res.headers.get('www-authenticate') ?? '';
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) throw new Error(`${url}: 401 without a Bearer challenge`);
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`);
    const body = /** @type {{ token?: string, access_token?: string }} */ (await (await fetch(tokenUrl)).json());
    const token = body.token ?? body.access_token;
    res = await fetch(url, { method: 'HEAD', headers: { accept: ACCEPT, authorization: `Bearer ${token}` } });
  }
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest) throw new Error(`${url}: ${res.status} ${res.statusText}${digest ? '' : ', no digest'}`);
  return digest;
}

async function main() {
  const check = process.argv.includes('--check');
  const unpinned = projectImages().filter(({ ref }) => !parseImage(ref).digest);
  if (check) {
    for (const { file, ref } of unpinned) console.error(`${file}: ${ref} is not pinned by digest`);
    process.exit(unpinned.length ? 1 : 0);
  }
  for (const { file, pattern } of IMAGE_FILES) {
    const full = path.join(ROOT, file);
    let text = readFileSync(full, 'utf8');
    const refs = [...new Set([...text.matchAll(pattern)].map((m) => m[2]))].filter(isImageRef);
    for (const ref of refs) {
      const image = parseImage(ref);
      const digest = await resolveDigest(image);
      const pinned = `${image.named}@${digest}`;
      if (pinned !== ref) text = text.replaceAll(ref, pinned);
      console.log(`${file}: ${pinned}${image.digest && image.digest !== digest ? ` (was ${image.digest})` : ''}`);
    }
    writeFileSync(full, text);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`✖ ${err.message}`);
    process.exit(1);
  });
}
