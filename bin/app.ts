#!/usr/bin/env node
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import {
  ConfigError,
  cdkJsonConfig,
  chooseConfig,
  describeConfigChoice,
  loadChosenConfig,
} from '../lib/config';
import { APP_PROPS, buildApp } from '../lib/app';

// `npx cdk synth [-c config=path/to/file.json]`: validate the configuration before any construct
// exists, and stop with every problem listed (no stack trace, nothing synthesized).
// Without -c config=, DELIVERY_CONFIG or cdk.json's context "config" names the file, as for every
// `npx delivery` command (lib/config/config-source.ts).
const repoRoot = path.resolve(__dirname, '..');
const app = new App(APP_PROPS);
try {
  // The CDK CLI merges cdk.json's context with -c: a value other than cdk.json's own came from -c.
  const fromCdkJson = cdkJsonConfig(repoRoot);
  const context: unknown = app.node.tryGetContext('config');
  const choice = chooseConfig({
    commandLine: context !== undefined && context !== fromCdkJson ? context : undefined,
    cwd: process.cwd(),
    repoRoot,
    cdkJson: fromCdkJson,
  });
  if (choice.source !== 'command line' && choice.source !== 'built-in defaults')
    console.error(`Configuration: ${describeConfigChoice(choice)}`);
  const config = loadChosenConfig(choice, repoRoot);
  buildApp({ app, config, repoRoot });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
