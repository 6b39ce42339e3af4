import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A real Kubernetes control plane on 127.0.0.1, for the integration tier (docs: README "Integration
 * tier"): etcd, kube-apiserver (RBAC, the default admission plugins, PodSecurity at its defaults),
 * kube-controller-manager, kube-scheduler, and kwok driving simulated nodes in three zones, so
 * Deployments really roll out and pods become Ready (no container runs: kwok plays the kubelet).
 * Binaries come from test/integration/controlplane/build.sh. Everything lives in one temp dir;
 * every process is started by us and stopped by PID, also on failure, SIGINT or SIGTERM.
 */
export interface ControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfig: string;
  /** The temp dir: certificates, kubeconfigs, etcd data, one log file per process. */
  readonly dir: string;
  /** Node name -> zone, of the simulated nodes. */
  readonly nodeZones: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok. */
  readonly binDir: string;
  /** Progress lines. @default to stderr */
  readonly log?: (line: string) => void;
  /** @default ['zone-a', 'zone-b', 'zone-c'] */
  readonly zones?: readonly string[];
  /** @default 2 */
  readonly nodesPerZone?: number;
  /** Bound on each wait (etcd healthy, API server ready, nodes Ready). @default 120 s */
  readonly timeoutMs?: number;
}

/** The label and annotation kwok manages nodes by (kwok's own convention, sigs.k8s.io/kwok docs "Manage nodes"). */
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;

interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
}

/** Starts with one port taken by someone else before a process bound it, then gives up. */
const START_ATTEMPTS = 3;

/**
 * The processes bind ports chosen free a moment before (etcd and the API server cannot pick their
 * own and report it); on a busy machine another process may take one in between. A start that
 * failed on "address already in use" is stopped and begun again on new ports, a bounded number of
 * times; any other failure fails at once.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[control plane] ${line}\n`));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ ...opts, log });
    } catch (e) {
      if (attempt >= START_ATTEMPTS || !/address already in use/i.test((e as Error).message))
        throw e;
      log(
        `a port was taken before its process bound it (attempt ${attempt} of ${START_ATTEMPTS}): starting again on new ports`,
      );
    }
  }
}

async function startOnce(
  opts: ControlPlaneOptions & { log: (line: string) => void },
): Promise<ControlPlane> {
  const { log } = opts;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const zones = opts.zones ?? ['zone-a', 'zone-b', 'zone-c'];
  const nodesPerZone = opts.nodesPerZone ?? 2;
  for (const b of BINARIES) {
    if (!fs.existsSync(path.join(opts.binDir, b)))
      throw new Error(
        `control plane: ${b} is missing from ${opts.binDir} (build it: bash test/integration/controlplane/build.sh)`,
      );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hello-web-controlplane-'));
  const started: Started[] = [];
  let stopped = false;

  const killAll = (signal: NodeJS.Signals) => {
    for (const s of [...started].reverse()) {
      if (s.child.exitCode !== null || s.child.signalCode !== null || !s.child.pid) continue;
      try {
        process.kill(s.child.pid, signal);
      } catch {
        // already gone (ESRCH): nothing left to stop
      }
    }
  };
  // Interrupted (Ctrl-C, CI timeout) or the test process exiting: nothing we started may outlive us.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the control plane`);
    killAll('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const onExit = () => killAll('SIGKILL');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', onExit);
    for (const s of [...started].reverse()) await stopProcess(s, log);
    fs.rmSync(dir, { recursive: true, force: true });
    log('stopped; temp dir removed');
  };

  // If this process is killed outright (SIGKILL: no handler runs), a small watcher kills what we
  // started: it polls our PID once a second and then SIGKILLs every PID listed in `pids` whose
  // command line is still one of our binaries (so a reused PID is never hit).
  const pidFile = path.join(dir, 'pids');
  fs.writeFileSync(pidFile, '');
  const reaperScript = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'while read -r pid; do grep -qF "$3" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"; done < "$2"',
    'rm -rf "$4"',
  ].join('\n');
  const reaper = spawn(
    'bash',
    ['-c', reaperScript, 'control-plane-reaper', String(process.pid), pidFile, opts.binDir, dir],
    { stdio: 'ignore', detached: true },
  );
  reaper.unref();
  started.push({ name: 'reaper', child: reaper, logFile: pidFile });

  const start = (name: string, args: string[]): Started => {
    const logFile = path.join(dir, `${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    const child = spawn(path.join(opts.binDir, name), args, {
      stdio: ['ignore', fd, fd],
      cwd: dir,
    });
    fs.closeSync(fd);
    fs.appendFileSync(pidFile, `${child.pid}\n`);
    const s = { name, child, logFile };
    started.push(s);
    log(`${name} started (pid ${child.pid}), log: ${logFile}`);
    return s;
  };

  try {
    const t0 = Date.now();
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await freePorts(5);
    const pki = makePki(dir);
    const server = `https://127.0.0.1:${apiPort}`;

    const etcd = start('etcd', [
      '--name=integration',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=integration=http://127.0.0.1:${etcdPeer}`,
      // a throwaway test store: durability buys nothing and fsync costs seconds on a shared disk
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd healthy', timeoutMs, log, etcd, async () =>
      (await httpGet(`http://127.0.0.1:${etcdClient}/health`)).body.includes('"health":"true"'),
    );

    const apiserver = start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--authorization-mode=Node,RBAC',
      // as on EKS (and kubeadm): privileged pods are an API feature, and Pod Security decides per namespace
      '--allow-privileged=true',
      // no --enable-admission-plugins: the default set, PodSecurity included, at its defaults (privileged unless a namespace says otherwise)
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.saPublic}`,
      `--service-account-signing-key-file=${pki.saPrivate}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // the "kubernetes" Service's endpoint may not be a loopback address; nothing in this cluster calls it
      '--endpoint-reconciler-type=none',
      '--profiling=false',
    ]);
    await waitFor(
      'kube-apiserver /readyz',
      timeoutMs,
      log,
      apiserver,
      async () => (await httpGet(`${server}/readyz`, pki.caCert)).status === 200,
    );

    const kubeconfig = writeKubeconfig(
      dir,
      'admin',
      server,
      pki.caCert,
      pki.client('admin', 'system:masters'),
    );
    const kcmConfig = writeKubeconfig(
      dir,
      'kube-controller-manager',
      server,
      pki.caCert,
      pki.client('system:kube-controller-manager'),
    );
    const schedConfig = writeKubeconfig(
      dir,
      'kube-scheduler',
      server,
      pki.caCert,
      pki.client('system:kube-scheduler'),
    );

    const kcm = start('kube-controller-manager', [
      `--kubeconfig=${kcmConfig}`,
      `--authentication-kubeconfig=${kcmConfig}`,
      `--authorization-kubeconfig=${kcmConfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.saPrivate}`,
      `--root-ca-file=${pki.caCert}`,
      // The HPA raises a fresh Deployment (no spec.replicas) to minReplicas on its first sync; 5 s
      // instead of 15 s only shortens the test. Without a metrics API it never scales on CPU.
      '--horizontal-pod-autoscaler-sync-period=5s',
      // A test machine can be loaded enough to delay a simulated heartbeat by many seconds; a node
      // marked NotReady would mark its pods unready mid-rollout. Real node failure is not under test.
      '--node-monitor-grace-period=2m',
      '--profiling=false',
    ]);
    const scheduler = start('kube-scheduler', [
      `--kubeconfig=${schedConfig}`,
      `--authentication-kubeconfig=${schedConfig}`,
      `--authorization-kubeconfig=${schedConfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
    // /healthz is in both components' always-allowed paths; their serving certificates are self-signed.
    await waitFor(
      'kube-controller-manager /healthz',
      timeoutMs,
      log,
      kcm,
      async () =>
        (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, 'insecure')).status === 200,
    );
    await waitFor(
      'kube-scheduler /healthz',
      timeoutMs,
      log,
      scheduler,
      async () =>
        (await httpGet(`https://127.0.0.1:${schedPort}/healthz`, 'insecure')).status === 200,
    );

    const kwok = start('kwok', [
      `--kubeconfig=${kubeconfig}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--cidr=10.244.0.1/16',
      '--node-ip=127.0.0.1',
      // node leases renewed every 10 s, as a kubelet does (kwok's default without this flag is
      // status-only heartbeats 20-45 s apart, close to the controller-manager's grace period)
      '--node-lease-duration-seconds=40',
    ]);

    const nodeZones: Record<string, string> = {};
    const nodes = zones.flatMap((zone) =>
      Array.from({ length: nodesPerZone }, (_, i) => {
        const name = `node-${zone}-${i + 1}`;
        nodeZones[name] = zone;
        return {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
            labels: {
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'arm64',
              'topology.kubernetes.io/zone': zone,
              'topology.kubernetes.io/region': 'local-1',
              type: 'kwok',
            },
          },
          status: {
            allocatable: { cpu: '2', memory: '8Gi', pods: '110' },
            capacity: { cpu: '2', memory: '8Gi', pods: '110' },
          },
        };
      }),
    );
    const created = spawnSync('kubectl', ['--kubeconfig', kubeconfig, 'create', '-f', '-'], {
      input: nodes.map((n) => JSON.stringify(n)).join('\n'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0)
      throw new Error(`creating the simulated nodes failed: ${created.stderr}`);
    await waitFor(`${nodes.length} simulated nodes Ready (kwok)`, timeoutMs, log, kwok, () => {
      const r = spawnSync(
        'kubectl',
        [
          '--kubeconfig',
          kubeconfig,
          'get',
          'nodes',
          '-o',
          'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      return Promise.resolve(
        r.status === 0 && r.stdout.split('\n').filter((l) => l === 'True').length === nodes.length,
      );
    });
    // Pods in a new namespace need its "default" service account and the token controller running.
    await waitFor('service account controller', timeoutMs, log, kcm, () =>
      Promise.resolve(
        spawnSync(
          'kubectl',
          ['--kubeconfig', kubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default'],
          { timeout: 30_000 },
        ).status === 0,
      ),
    );
    log(
      `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${server}, ${nodes.length} nodes in ${zones.join(', ')}; KUBECONFIG=${kubeconfig}`,
    );
    return { kubeconfig, dir, nodeZones, stop };
  } catch (e) {
    log(`start failed: ${(e as Error).message}`);
    for (const s of started) log(`--- last lines of ${s.name}.log ---\n${tail(s.logFile, 15)}`);
    await stop();
    throw e;
  }
}

async function stopProcess(s: Started, log: (l: string) => void): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    log(`${s.name} (pid ${child.pid}) ignored SIGTERM for 10 s: SIGKILL`);
    if (child.exitCode === null && child.signalCode === null && child.pid)
      process.kill(child.pid, 'SIGKILL');
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it is true; fails when the process it waits on exits or the time is up; a progress line every 10 s. */
async function waitFor(
  what: string,
  timeoutMs: number,
  log: (l: string) => void,
  on: Started,
  check: () => Promise<boolean>,
): Promise<void> {
  const t0 = Date.now();
  let lastReport = t0;
  for (;;) {
    if (on.child.exitCode !== null || on.child.signalCode !== null) {
      throw new Error(
        `${on.name} exited (${on.child.exitCode ?? on.child.signalCode}) while waiting for ${what}:\n${tail(on.logFile, 20)}`,
      );
    }
    if (await check().catch(() => false)) {
      log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return;
    }
    const now = Date.now();
    if (now - t0 > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}; ${on.name} log:\n${tail(on.logFile, 20)}`,
      );
    if (now - lastReport >= 10_000) {
      log(`waiting for ${what} (${Math.round((now - t0) / 1000)} s)`);
      lastReport = now;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET with a 5 s bound; `ca` is a CA file to trust, or 'insecure' for the components' self-signed serving certificates on loopback. */
function httpGet(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const options: https.RequestOptions = { timeout: 5000 };
    if (ca === 'insecure') options.rejectUnauthorized = false;
    else if (ca) options.ca = fs.readFileSync(ca);
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      u.protocol === 'https:'
        ? https.get(u, options, onResponse)
        : http.get(u, options, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Distinct free ports on 127.0.0.1 (all held open at once, so none is handed out twice). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const srv = net.createServer();
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface Pki {
  readonly caCert: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly saPrivate: string;
  readonly saPublic: string;
  /** A client certificate for this user (CN) and group (O): [cert, key]. */
  client(user: string, group?: string): { cert: string; key: string };
}

/**
 * A throwaway CA and the certificates the components need, made with the openssl CLI (Node's
 * crypto can make keys but not X.509 certificates); valid for two days. Arguments are passed as
 * an array, never through a shell.
 */
function makePki(dir: string): Pki {
  const pki = path.join(dir, 'pki');
  fs.mkdirSync(pki, { mode: 0o700 });
  const f = (name: string) => path.join(pki, name);
  const openssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
    if (r.error)
      throw new Error(
        `openssl: ${r.error.message} (the integration tier needs the openssl CLI on PATH)`,
      );
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=hello-web-integration-ca',
  ]);
  const issue = (name: string, subject: string, ext: string[]) => {
    fs.writeFileSync(
      f(`${name}.ext`),
      ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...ext].join(
        '\n',
      ) + '\n',
    );
    openssl([
      'req',
      '-new',
      ...ec,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      subject,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.crt`),
    ]);
    return { cert: f(`${name}.crt`), key: f(`${name}.key`) };
  };
  const api = issue('apiserver', '/CN=kube-apiserver', [
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(f('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  fs.writeFileSync(f('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    caCert: f('ca.crt'),
    apiserverCert: api.cert,
    apiserverKey: api.key,
    saPrivate: f('sa.key'),
    saPublic: f('sa.pub'),
    client: (user, group) =>
      issue(user.replace(/[^a-z0-9-]/gi, '_'), `${group ? `/O=${group}` : ''}/CN=${user}`, [
        'extendedKeyUsage=clientAuth',
      ]),
  };
}

function writeKubeconfig(
  dir: string,
  name: string,
  server: string,
  ca: string,
  client: { cert: string; key: string },
): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'integration', cluster: { server, 'certificate-authority': ca } }],
    users: [{ name, user: { 'client-certificate': client.cert, 'client-key': client.key } }],
    contexts: [{ name: 'integration', context: { cluster: 'integration', user: name } }],
    'current-context': 'integration',
  };
  // kubeconfig is YAML, and JSON is YAML
  fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
