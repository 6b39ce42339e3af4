#!/usr/bin/env node
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { APP_PROPS, buildApp } from '../lib/app';

// `npx cdk synth [-c config=path/to/file.json]`: validate the configuration before any construct
// exists, and stop with every problem listed (no stack trace, nothing synthesized).
const repoRoot = path.resolve(__dirname, '..');
const app = new App(APP_PROPS);
try {
  const config = loadConfig({
    contextValue: app.node.tryGetContext('config'),
    cwd: process.cwd(),
    repoRoot,
  });
  buildApp({ app, config, repoRoot });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
