#!/usr/bin/env node
import { buildApp } from '../lib/civic-iot-app.js';
import { ConfigError } from '../lib/config/platform-config.js';

// Composition root: config comes from CDK context (cdk.json and -c key=value); everything else lives in lib/.
try {
  buildApp();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A configuration mistake is the user's to fix: say what is wrong, without a stack trace.
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
