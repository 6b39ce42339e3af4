import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { SAFE_CONFIG_PATH } from './safe-path';
import { SERVICE_NAME_MAX_LENGTH, SERVICE_NAME_PATTERN } from './names';
import type { ConfigProblem } from './schema';

/**
 * `service`: the one containerised HTTP service this repository delivers. Its name derives every
 * other name (lib/config/names.ts); its directory is the image's build context and fingerprint;
 * its port and probe paths go into the manifests, the load balancer's health check and the
 * alarms' filters (docs/decisions/0029-service-as-a-parameter.md).
 */

/**
 * The NLB's health check path is at most 1024 characters
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html,
 * HealthCheckPath). Only URL path characters that need no escaping anywhere (a Kubernetes
 * annotation, a CloudWatch Logs filter pattern, a shell command in a runbook).
 */
const HTTP_PATH = /^\/[A-Za-z0-9._~/-]{0,1023}$/;

/**
 * The port of the service's probe listener (app/probe_listener.go, `PROBE_PORT`; the manifests'
 * `WORKLOAD.probePort`): the kubelet probes it, apart from the public port
 * (docs/decisions/0034-probe-port-and-log-drops.md), so `service.port` must be another one.
 */
export const PROBE_PORT = 8081;

const httpPath = z.string().regex(HTTP_PATH, {
  message:
    'must be an HTTP path such as "/healthz": "/" then at most 1023 of A-Z, a-z, 0-9, ".", "_", "~", "-", "/"',
});

export const serviceSchema = z.strictObject({
  /**
   * The service's name: a DNS label of a-z, 0-9 and "-", starting with a letter (the Kubernetes
   * Service takes it as its name), at most 63 characters, and short enough for every name it
   * becomes part of (lib/config/names.ts checks the longest). @default DEFAULT_SERVICE.name (defaults.ts)
   */
  name: z
    .string()
    .max(SERVICE_NAME_MAX_LENGTH, {
      message: `must be at most ${SERVICE_NAME_MAX_LENGTH} characters (a DNS label: it names the Kubernetes namespace and Service)`,
    })
    .regex(SERVICE_NAME_PATTERN, {
      message:
        'must be a DNS label such as "orders-api": lowercase a-z, 0-9 and "-", starting with a letter and ending with a letter or digit (the Kubernetes Service and namespace take it as their name)',
    })
    .optional(),
  /** The service's source directory, relative to the repository root: the image's build context (its Dockerfile) and what the image tag fingerprints. @default "app" */
  appDir: z
    .string()
    .regex(SAFE_CONFIG_PATH, {
      message:
        'must be a directory inside the repository such as "app" or "services/orders": names of A-Z, a-z, 0-9, ".", "_", "-" separated by "/", no "." or ".." (the image build passes it to docker build)',
    })
    .optional(),
  /**
   * The port the container listens on (its PORT variable); the load balancer forwards 80/443 to
   * it. 1024 or above: the container runs as a non-root user with every capability dropped, so it
   * cannot bind a privileged port. @default 8080
   */
  port: z
    .number()
    .int('must be a whole number')
    .min(
      1024,
      'must be at least 1024: the container runs without privileges and cannot bind a lower port',
    )
    .max(65535, 'must be at most 65535')
    .refine((p) => p !== PROBE_PORT, {
      message: `must not be ${PROBE_PORT}: the probe listener takes that port (PROBE_PORT)`,
    })
    .optional(),
  /** Liveness and startup probe path. @default "/healthz" */
  healthPath: httpPath.optional(),
  /** Readiness probe path, also the load balancer's health check. @default "/readyz" */
  readyPath: httpPath.optional(),
});

export type ServiceInput = z.input<typeof serviceSchema>;

/** The service with its defaults applied. */
export interface ServiceConfig {
  readonly name: string;
  readonly appDir: string;
  readonly port: number;
  readonly healthPath: string;
  readonly readyPath: string;
}

export function resolveService(
  input: ServiceInput | undefined,
  defaults: ServiceConfig,
): ServiceConfig {
  return { ...defaults, ...input };
}

/**
 * Whether the service's directory is there to build: a directory inside the repository holding a
 * Dockerfile. Checked against the files, so only where the repository is at hand (the synth, the
 * manifests tool), not in the pure config validation.
 */
export function checkServiceSource(service: ServiceConfig, repoRoot: string): ConfigProblem[] {
  const dir = path.resolve(repoRoot, service.appDir);
  const root = fs.existsSync(repoRoot) ? fs.realpathSync(repoRoot) : path.resolve(repoRoot);
  const where = `service.appDir`;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    return [
      {
        path: where,
        message: `"${service.appDir}" is not a directory of the repository (${root}); it must hold the service's source and Dockerfile`,
      },
    ];
  const real = fs.realpathSync(dir);
  const rel = path.relative(root, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    return [
      {
        path: where,
        message: `"${service.appDir}" resolves to ${real}, outside the repository (${root}); the pipeline builds from the repository only`,
      },
    ];
  if (!fs.existsSync(path.join(real, 'Dockerfile')))
    return [
      {
        path: where,
        message: `"${service.appDir}" has no Dockerfile; the image is built with docker build ${service.appDir}`,
      },
    ];
  return [];
}
