import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLES, TTL_ATTRIBUTE } from '../../lambdas/contracts/tables.js';
import { STORE_CONFIGURATIONS, type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

let dynamo: Template;
let timestream: Template;
let prod: Template;
let built: SynthesizedPlatform['built'];

beforeAll(() => {
  const synthesized = synthesizePlatform(STORE_CONFIGURATIONS.dynamodb);
  built = synthesized.built;
  dynamo = synthesized.data;
  timestream = synthesizePlatform({ ...STORE_CONFIGURATIONS.timestream, retentionDays: '730' }).data;
  prod = synthesizePlatform({ stage: 'prod' }).data;
});

const tableWithKey = (partitionKey: string, sortKey?: string) => ({
  KeySchema: [
    { AttributeName: partitionKey, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' }] : []),
  ],
});

describe('DataStack tables', () => {
  it.each([
    ['telemetry', TABLES.telemetry],
    ['quarantine', TABLES.quarantine],
    ['processed-messages', TABLES['processed-messages']],
  ])('%s table expires items by TTL on the contract attribute', (_id, definition) => {
    dynamo.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      ...tableWithKey(
        definition.partitionKey.name,
        'sortKey' in definition ? definition.sortKey.name : undefined,
      ),
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it('devices table has no TTL (the register is permanent)', () => {
    const devices = dynamo.findResources('AWS::DynamoDB::GlobalTable', {
      Properties: Match.objectLike(tableWithKey('deviceId')),
    });
    const withTtl = Object.values(devices).filter((r) => r.Properties.TimeToLiveSpecification);
    expect(Object.keys(devices).length).toBe(2); // devices and latest-state share the key
    expect(withTtl).toHaveLength(0);
  });

  it('declares the GSIs from the table contracts', () => {
    dynamo.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byType' })],
    });
    dynamo.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byDevice' })],
    });
  });

  it('every table is on-demand with a maximum throughput cap', () => {
    const tables = dynamo.findResources('AWS::DynamoDB::GlobalTable');
    expect(Object.keys(tables)).toHaveLength(Object.keys(TABLES).length);
    for (const table of Object.values(tables)) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.WriteOnDemandThroughputSettings.MaxWriteRequestUnits).toBeGreaterThan(0);
      expect(table.Properties.Replicas[0].ReadOnDemandThroughputSettings.MaxReadRequestUnits).toBeGreaterThan(
        0,
      );
    }
  });

  // 1,000 devices every 300 s and 10,000 API requests a day (cdk.json): see capDefaults, serviceCapDefaults.
  it.each([
    ['quarantine', 'reason', 'receivedKey', 67, 25],
    ['processed-messages', 'messageKey', undefined, 67, 25],
    ['telemetry', 'deviceId', 'bucketKey', 67, 25],
    ['cost-guard', 'recordKey', 'sortKey', 67, 25],
    // One detector state read per reading (3.3 a second, tenfold); writes only on change, at the floor of 25.
    ['service-state', 'deviceId', 'service', 25, 34],
    ['jobs', 'jobId', undefined, 25, 25],
    ['alerts', 'alertKey', 'openedAt', 25, 25],
    ['service-sites', 'service', 'site', 25, 25],
    // People-paced (loading a list, devices provisioning): the platform's floor, whatever the load profile.
    ['provisioning-allow-list', 'serialNumber', undefined, 25, 25],
  ] as const)(
    'the %s table has its own caps: %i writes and %i reads a second',
    (_id, pk, sk, write, read) => {
      const tables = Object.values(
        dynamo.findResources('AWS::DynamoDB::GlobalTable', {
          Properties: Match.objectLike(tableWithKey(pk, sk)),
        }),
      );
      expect(tables).toHaveLength(1);
      expect(tables[0]?.Properties.WriteOnDemandThroughputSettings).toEqual({ MaxWriteRequestUnits: write });
      expect(tables[0]?.Properties.Replicas[0].ReadOnDemandThroughputSettings).toEqual({
        MaxReadRequestUnits: read,
      });
    },
  );

  it("gives the registry tables the read cap that carries the offline sweep, above the other tables'", () => {
    const registry = Object.values(
      dynamo.findResources('AWS::DynamoDB::GlobalTable', {
        Properties: Match.objectLike(tableWithKey('deviceId')),
      }),
    );
    expect(registry).toHaveLength(2);
    for (const table of registry) {
      expect(table.Properties.Replicas[0].ReadOnDemandThroughputSettings).toEqual({
        MaxReadRequestUnits: built.config.registryMaxReadRequestUnits,
      });
    }
    expect(built.config.registryMaxReadRequestUnits).toBeGreaterThan(
      built.config.telemetryMaxReadRequestUnits,
    );
  });

  it.each([
    ['devices', 'byType', 67, 'registry'],
    ['quarantine', 'byDevice', 67, 25],
  ] as const)(
    'the %s table index %s has the table maximum throughput of its own',
    (_table, indexName, write, cap) => {
      const read = cap === 'registry' ? built.config.registryMaxReadRequestUnits : cap;
      const tables = Object.values(dynamo.findResources('AWS::DynamoDB::GlobalTable')).filter((table) =>
        (table.Properties.GlobalSecondaryIndexes ?? []).some(
          (index: { IndexName: string }) => index.IndexName === indexName,
        ),
      );
      const table = tables.find((t) => t.Properties.GlobalSecondaryIndexes.length === 1)?.Properties;
      expect(table.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: indexName,
          WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: write },
        }),
      ]);
      expect(table.Replicas[0].GlobalSecondaryIndexes).toEqual([
        { IndexName: indexName, ReadOnDemandThroughputSettings: { MaxReadRequestUnits: read } },
      ]);
    },
  );

  it.each([
    ['jobs', 'jobId', ['byDevice', 'byServiceStatus']],
    ['alerts', 'alertKey', ['byIncident', 'byServiceStatus']],
  ])('the %s table caps each of its indexes %j like the table', (_id, pk, indexNames) => {
    const [table] = Object.values(
      dynamo.findResources('AWS::DynamoDB::GlobalTable', {
        Properties: Match.objectLike({
          KeySchema: Match.arrayWith([{ AttributeName: pk, KeyType: 'HASH' }]),
        }),
      }),
    );
    expect(table?.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual(
      indexNames,
    );
    for (const index of table?.Properties.GlobalSecondaryIndexes ?? []) {
      expect(index.WriteOnDemandThroughputSettings).toEqual({ MaxWriteRequestUnits: 25 });
    }
    for (const index of table?.Properties.Replicas[0].GlobalSecondaryIndexes ?? []) {
      expect(index.ReadOnDemandThroughputSettings).toEqual({ MaxReadRequestUnits: 25 });
    }
  });

  it('takes the service tables caps from config', () => {
    const custom = synthesizePlatform({
      serviceStateMaxWriteRequestUnits: '7',
      workflowMaxReadRequestUnits: '9',
    }).data;
    custom.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      ...tableWithKey('deviceId', 'service'),
      WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 7 },
    });
    custom.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      ...tableWithKey('jobId'),
      Replicas: [Match.objectLike({ ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 9 } })],
    });
  });

  it('every table is encrypted at rest with KMS', () => {
    for (const table of Object.values(dynamo.findResources('AWS::DynamoDB::GlobalTable'))) {
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
    }
  });

  it.each([
    ['service-state', 'deviceId', 'service'],
    ['jobs', 'jobId', undefined],
    ['alerts', 'alertKey', 'openedAt'],
    ['service-sites', 'service', 'site'],
  ] as const)('keeps point-in-time recovery on the %s table', (_id, pk, sk) => {
    dynamo.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      ...tableWithKey(pk, sk),
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('keeps point-in-time recovery on the telemetry and registry tables', () => {
    dynamo.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      ...tableWithKey('deviceId', 'bucketKey'),
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('non-prod stages delete tables with the stack', () => {
    for (const table of Object.values(dynamo.findResources('AWS::DynamoDB::GlobalTable'))) {
      expect(table.DeletionPolicy).toBe('Delete');
    }
  });

  it('prod stage retains every table', () => {
    const tables = Object.values(prod.findResources('AWS::DynamoDB::GlobalTable'));
    expect(tables).toHaveLength(Object.keys(TABLES).length);
    for (const table of tables) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('dynamodb store creates no Timestream resources', () => {
    dynamo.resourceCountIs('AWS::Timestream::Database', 0);
    dynamo.resourceCountIs('AWS::Timestream::Table', 0);
  });
});

describe('DataStack with the Timestream store', () => {
  it('has no DynamoDB telemetry table', () => {
    expect(
      timestream.findResources('AWS::DynamoDB::GlobalTable', {
        Properties: Match.objectLike(tableWithKey('deviceId', 'bucketKey')),
      }),
    ).toEqual({});
    timestream.resourceCountIs('AWS::DynamoDB::GlobalTable', Object.keys(TABLES).length - 1);
  });

  it('enables magnetic store writes with rejected data reported to the bucket', () => {
    const buckets = Object.keys(timestream.findResources('AWS::S3::Bucket'));
    expect(buckets).toHaveLength(1);
    timestream.hasResourceProperties('AWS::Timestream::Table', {
      MagneticStoreWriteProperties: {
        EnableMagneticStoreWrites: true,
        MagneticStoreRejectedDataLocation: {
          S3Configuration: { BucketName: { Ref: buckets[0] }, EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });

  it('sets memory retention from config and magnetic retention from retentionDays by default', () => {
    timestream.hasResourceProperties('AWS::Timestream::Table', {
      RetentionProperties: {
        MemoryStoreRetentionPeriodInHours: '24',
        MagneticStoreRetentionPeriodInDays: '730',
      },
    });
  });

  it('rejected-data bucket is encrypted, blocks public access and refuses plain HTTP', () => {
    timestream.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    timestream.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});
