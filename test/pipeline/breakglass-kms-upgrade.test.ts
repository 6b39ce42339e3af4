import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTargets,
  ConfigError,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * `breakglassCheck.kmsTableUpgrade` (ADR 0035, Amendment): the one way past a breakglass check
 * that cannot read an audit table made before ADR 0035. Per environment, false unless set, and
 * carried to the check through the targets the synth writes; the check's behaviour with it is in
 * test/tools/pipeline/breakglass-check/check.moto.test.ts.
 */
const base = (): DeliveryConfigInput =>
  JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as DeliveryConfigInput;

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('the setting', () => {
  test('is off unless an environment sets it', () => {
    const cfg = validateConfig(STACK_ENVIRONMENTS);
    expect(cfg.preprod.breakglassCheck).toEqual({ kmsTableUpgrade: false });
  });

  test.each([
    [{ kmsTableUpgrade: 'yes' }, /^preprod\.breakglassCheck\.kmsTableUpgrade: /],
    [{ kmsTableUpgrades: true }, /^preprod\.breakglassCheck: unknown key "kmsTableUpgrades"/],
  ])('%j is refused at its path', (value, expected) => {
    const cfg = base();
    (cfg.preprod as Record<string, unknown>).breakglassCheck = value;
    expect(problems(cfg)).toEqual([expect.stringMatching(expected)]);
  });
});

describe('the synth carries it to the check, for the environments that set it only', () => {
  let s: Synthesized;
  beforeAll(() => {
    const cfg = base();
    cfg.preprod.breakglassCheck = { kmsTableUpgrade: true };
    s = synthesize({ config: cfg });
  });
  afterAll(() => fs.rmSync(s.outdir, { recursive: true, force: true }));

  test('targets.json', () => {
    const targets = JSON.parse(
      fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
    ) as BreakglassCheckTargets;
    expect(
      Object.fromEntries(targets.environments.map((t) => [t.stageName, t.kmsTableUpgrade])),
    ).toEqual({
      [s.config.preprod.stageName]: true,
      ...Object.fromEntries(s.config.prod.waves.flat().map((e) => [e.stageName, undefined])),
    });
  });
});
