import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimited } from '../domain/for-each-limited.js';
import type {
  AllowedDevice,
  AllowListClaim,
  AllowListEntry,
  AllowListPutResult,
  AllowListReclaim,
  AllowListState,
  ProvisioningAllowList,
} from '../domain/provisioning-allow-list.js';
import { conditionally, isConditionFailure } from './dynamodb-batches.js';

/**
 * Conditional puts in flight at once while loading a list: a CSV of a thousand serials loads in seconds, well
 * inside the table's write cap with the SDK's retries riding out a throttled moment.
 */
const PUT_CONCURRENCY = 8;

const WAITING: AllowListState = 'waiting';
const PROVISIONED: AllowListState = 'provisioned';

/**
 * The provisioning allow-list table: one item per serial number (the key), holding the device it becomes and its
 * state. Every write is conditional on the state, so the table itself enforces "once each": loading never resets
 * a provisioned serial, and of two claims (or re-claims) of one serial exactly one succeeds.
 */
export class DynamoDbProvisioningAllowList implements ProvisioningAllowList {
  private readonly client: DynamoDBDocumentClient;

  /**
   * @param client a document client (numbers stay numbers, undefined fields dropped), or a plain DynamoDB client,
   *   which is wrapped in one with those settings
   * @param tableName the table (the stack's `ProvisioningAllowListTableName` output; `civic-provisioning-allow-list`
   *   locally)
   */
  constructor(
    client: DynamoDBDocumentClient | DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.client =
      client instanceof DynamoDBDocumentClient
        ? client
        : DynamoDBDocumentClient.from(client, {
            marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
          });
  }

  async put(entries: readonly AllowedDevice[], loadedAt: Date): Promise<AllowListPutResult> {
    const written = new Array<boolean>(entries.length);
    await forEachLimited(entries, PUT_CONCURRENCY, async (entry, index) => {
      const item: AllowListEntry = { ...deviceOf(entry), state: WAITING, loadedAt: loadedAt.toISOString() };
      written[index] = await conditionally(
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...item },
            // A new serial, or one still waiting (its fields written again); a provisioned one is never reset.
            ConditionExpression: 'attribute_not_exists(serialNumber) OR #state = :waiting',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':waiting': WAITING },
          }),
        ),
      );
    });
    return {
      waiting: entries.filter((_, index) => written[index]).map((entry) => entry.serialNumber),
      alreadyProvisioned: entries.filter((_, index) => !written[index]).map((entry) => entry.serialNumber),
    };
  }

  async get(serialNumber: string): Promise<AllowListEntry | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { serialNumber }, ConsistentRead: true }),
    );
    return response.Item as AllowListEntry | undefined;
  }

  async claim(serialNumber: string, claim: AllowListClaim): Promise<AllowListEntry | undefined> {
    try {
      const response = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { serialNumber },
          UpdateExpression: 'SET #state = :provisioned, provisionedAt = :at, certificateId = :certificate',
          // Only a waiting serial: attribute_exists keeps an update from creating an item for an unknown serial.
          ConditionExpression: 'attribute_exists(serialNumber) AND #state = :waiting',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':provisioned': PROVISIONED,
            ':waiting': WAITING,
            ':at': claim.provisionedAt,
            ':certificate': claim.certificateId,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return response.Attributes as AllowListEntry | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async unclaim(serialNumber: string, certificateId: string): Promise<boolean> {
    return conditionally(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { serialNumber },
          UpdateExpression: 'SET #state = :waiting REMOVE provisionedAt, certificateId, claimedAt',
          // Only this certificate's claim: a rollback must never give back a serial another device holds.
          ConditionExpression: '#state = :provisioned AND certificateId = :certificate',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':provisioned': PROVISIONED,
            ':waiting': WAITING,
            ':certificate': certificateId,
          },
        }),
      ),
    );
  }

  async reclaim(
    serialNumber: string,
    previousCertificateId: string,
    claim: AllowListReclaim,
  ): Promise<AllowListEntry | undefined> {
    try {
      const response = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { serialNumber },
          UpdateExpression:
            'SET certificateId = :certificate, claimedAt = :claimedAt' +
            (claim.provisionedAt === undefined ? '' : ', provisionedAt = :at'),
          // Only while the certificate the caller found unused still holds the serial: of two retries, one wins.
          ConditionExpression: '#state = :provisioned AND certificateId = :previous',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':provisioned': PROVISIONED,
            ':previous': previousCertificateId,
            ':certificate': claim.certificateId,
            ':claimedAt': claim.claimedAt,
            ...(claim.provisionedAt === undefined ? {} : { ':at': claim.provisionedAt }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return response.Attributes as AllowListEntry | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}

/** The device fields of an entry, copied field by field so nothing else a caller passed is stored. */
function deviceOf(entry: AllowedDevice): AllowedDevice {
  return {
    serialNumber: entry.serialNumber,
    deviceId: entry.deviceId,
    deviceType: entry.deviceType,
    location: { lat: entry.location.lat, lon: entry.location.lon },
    ...(entry.ward === undefined ? {} : { ward: entry.ward }),
    ...(entry.site === undefined ? {} : { site: entry.site }),
    ...(entry.expectedIntervalSeconds === undefined
      ? {}
      : { expectedIntervalSeconds: entry.expectedIntervalSeconds }),
  };
}
