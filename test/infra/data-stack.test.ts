import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLES, TTL_ATTRIBUTE } from '../../lambdas/contracts/tables.js';
import { STORE_CONFIGURATIONS, synthesizePlatform } from './platform-app.js';

let dynamo: Template;
let timestream: Template;
let prod: Template;

beforeAll(() => {
  dynamo = synthesizePlatform(STORE_CONFIGURATIONS.dynamodb).data;
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

  it('every table is on-demand with a maximum throughput cap from config', () => {
    const tables = dynamo.findResources('AWS::DynamoDB::GlobalTable');
    // devices, latest-state, quarantine, processed-messages, telemetry, cost-guard
    expect(Object.keys(tables)).toHaveLength(6);
    for (const table of Object.values(tables)) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.WriteOnDemandThroughputSettings).toEqual({ MaxWriteRequestUnits: 67 });
      expect(table.Properties.Replicas[0].ReadOnDemandThroughputSettings).toEqual({
        MaxReadRequestUnits: 25,
      });
    }
  });

  it.each([
    ['devices', 'byType'],
    ['quarantine', 'byDevice'],
  ])('the %s table index %s has the table maximum throughput of its own', (_table, indexName) => {
    const tables = Object.values(dynamo.findResources('AWS::DynamoDB::GlobalTable')).filter((table) =>
      (table.Properties.GlobalSecondaryIndexes ?? []).some(
        (index: { IndexName: string }) => index.IndexName === indexName,
      ),
    );
    expect(tables).toHaveLength(1);
    const table = tables[0]?.Properties;
    expect(table.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: indexName,
        WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 67 },
      }),
    ]);
    expect(table.Replicas[0].GlobalSecondaryIndexes).toEqual([
      { IndexName: indexName, ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 25 } },
    ]);
  });

  it('every table is encrypted at rest with KMS', () => {
    for (const table of Object.values(dynamo.findResources('AWS::DynamoDB::GlobalTable'))) {
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
    }
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
    expect(tables).toHaveLength(6);
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
    timestream.resourceCountIs('AWS::DynamoDB::GlobalTable', 5);
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
