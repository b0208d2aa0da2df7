import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchPut, isConditionFailure } from '../lambdas/adapters/dynamodb-batches.js';
import { localTableName } from '../lambdas/contracts/tables.js';
import type { Device } from '../lambdas/domain/device.js';

/**
 * The broker's view of the device registry (the local stand-in for IoT Core's thing registry), read from the same
 * `devices` table the enrichment handler reads. Items are the {@link Device} fields, keyed by `deviceId`.
 */
export class LocalDeviceRegistry {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName = localTableName('devices');

  constructor(client: DynamoDBClient) {
    this.documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  /** The registered device, or undefined. Consistent read: a device registered a moment ago can connect. */
  async get(deviceId: string): Promise<Device | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: true }),
    );
    return Item as Device | undefined;
  }

  /** Writes devices into the registry (overwriting earlier entries with the same id). */
  async register(devices: readonly Device[]): Promise<void> {
    const unwritten = await batchPut(
      this.documents,
      this.tableName,
      devices.map((device) => ({ ...device })),
      (item) => String(item.deviceId),
    );
    if (unwritten.length > 0) throw new Error(`${unwritten.length} devices kept coming back unprocessed`);
  }

  /**
   * Registers devices that are not in the registry yet and leaves existing entries alone, so restarting the demo
   * does not undo a change an operator made (say, a decommissioned bin).
   */
  async registerMissing(devices: readonly Device[]): Promise<number> {
    let added = 0;
    for (let i = 0; i < devices.length; i += 32) {
      await Promise.all(
        devices.slice(i, i + 32).map(async (device) => {
          try {
            await this.documents.send(
              new PutCommand({
                TableName: this.tableName,
                Item: device,
                ConditionExpression: 'attribute_not_exists(deviceId)',
              }),
            );
            added += 1;
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }),
      );
    }
    return added;
  }

  /**
   * Sets the declared reporting interval (and, where given, the service settings) of registered devices and leaves
   * every other field alone (a device that is no longer registered stays unregistered). The demo city calls it at
   * every start: at `--speed N` its devices really report N times as often, and rate policing judges a device by
   * what it declares; a data dir from an older version gets the demo's gauge levels and road speeds too.
   */
  async declareIntervals(
    intervals: readonly {
      readonly deviceId: string;
      readonly expectedIntervalSeconds: number;
      readonly settings?: Readonly<Record<string, number>>;
    }[],
  ): Promise<void> {
    for (let i = 0; i < intervals.length; i += 32) {
      await Promise.all(
        intervals.slice(i, i + 32).map(async ({ deviceId, expectedIntervalSeconds, settings }) => {
          try {
            await this.documents.send(
              new UpdateCommand({
                TableName: this.tableName,
                Key: { deviceId },
                UpdateExpression: settings
                  ? 'SET expectedIntervalSeconds = :interval, settings = :settings'
                  : 'SET expectedIntervalSeconds = :interval',
                ConditionExpression: 'attribute_exists(deviceId)',
                ExpressionAttributeValues: {
                  ':interval': expectedIntervalSeconds,
                  ...(settings ? { ':settings': settings } : {}),
                },
              }),
            );
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }),
      );
    }
  }
}
