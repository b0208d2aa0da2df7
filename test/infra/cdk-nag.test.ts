import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/civic-iot-app.js';
import { STORE_CONFIGURATIONS, type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

/**
 * cdk-nag 3 runs as a CDK validation plugin: unacknowledged errors make `app.synth()` throw, and every finding
 * that is not acknowledged (warnings included) is written to `validation-report.json` in the cloud assembly.
 * Acknowledgements live in construct metadata under `Validations.ACKNOWLEDGED_RULES_METADATA_KEY`.
 */
interface ValidationReport {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly violations: readonly { readonly ruleName: string; readonly severity: string }[];
  }[];
}

describe.each(Object.entries(STORE_CONFIGURATIONS))(
  'cdk-nag AwsSolutions (%s store)',
  (_store, overrides) => {
    let synthesized: SynthesizedPlatform;
    // Synthesis with the plugin throws on any unacknowledged error, so reaching the assertions already means none.
    beforeAll(() => {
      synthesized = synthesizePlatform(overrides, { nag: true });
    });

    it('leaves no unacknowledged finding, errors or warnings', () => {
      const report = JSON.parse(
        readFileSync(join(synthesized.assembly.directory, 'validation-report.json'), 'utf8'),
      ) as ValidationReport;
      const open = report.pluginReports.flatMap((plugin) =>
        plugin.violations.map((v) => `${plugin.pluginName}: ${v.ruleName} (${v.severity})`),
      );
      expect(open).toEqual([]);
    });

    it('checks the cost guard stack too, whose only acknowledgements are on its named resources', () => {
      const stack = synthesized.built.costGuardStack;
      const acknowledged = stack.node
        .findAll()
        .filter((construct) =>
          construct.node.metadata.some((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
        )
        .map((construct) => construct.node.path.replace(`${stack.stackName}/`, ''));
      expect(acknowledged).toEqual(
        expect.arrayContaining([
          'CostGuard/Meter/Role',
          'CostGuard/BudgetAlert/Role',
          'CostGuard/MeterScheduleRole',
        ]),
      );
    });

    it('gives every acknowledgement a reason, on a resource rather than a stack', () => {
      const acknowledgements = synthesized.built.app.node.findAll().flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
          .map(([id, reason]) => ({ path: construct.node.path, id, reason })),
      );
      expect(acknowledgements.length).toBeGreaterThan(0);
      for (const { path, id, reason } of acknowledgements) {
        expect(reason.trim().length, `${path} ${id}`).toBeGreaterThan(20);
        expect(path.split('/').length, `${id} acknowledged stack-wide at ${path}`).toBeGreaterThan(1);
      }
    });
  },
);

describe('cdk-nag failure case', () => {
  it('fails synthesis when a resource breaks a rule without acknowledgement', () => {
    const { app, platformStack } = buildApp(
      {
        councilName: 'Test Council',
        devices: 10,
        messageIntervalSeconds: 60,
        apiRequestsPerDay: 0,
        'aws:cdk:bundling-stacks': [],
      },
      { nag: true },
    );
    // A queue with no DLQ and no TLS enforcement: AwsSolutions-SQS3 and SQS4.
    new Queue(platformStack, 'Unguarded', { enforceSSL: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});
