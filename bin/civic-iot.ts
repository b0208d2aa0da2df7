#!/usr/bin/env node
import { buildApp } from '../lib/civic-iot-app.js';
import { ConfigError } from '../lib/config/platform-config.js';
import { summaryLines } from '../lib/cost/cost-statement.js';
import { writeCostStatement } from '../lib/cost/cost-statement-writer.js';

// Composition root: config comes from CDK context (cdk.json and -c key=value); everything else lives in lib/.
try {
  const { app, config } = buildApp();
  const { statement } = writeCostStatement(app, config);
  for (const line of summaryLines(statement)) process.stdout.write(`${line}\n`);
  if (statement.violations.length > 0) {
    process.stderr.write(
      `Synth refused by the cost statement:\n${statement.violations.map((v) => `  - ${v}`).join('\n')}\n`,
    );
    process.exit(1);
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A configuration mistake is the user's to fix: say what is wrong, without a stack trace.
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
