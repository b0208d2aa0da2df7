import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTelemetryStore } from '../lambdas/adapters/dynamodb-telemetry-store.js';
import type { DeviceType, Readings } from '../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../lambdas/domain/telemetry.js';
import { startDynamo } from '../test/support/dynalite.js';
import { itemBytes, STORAGE_OVERHEAD_BYTES } from './dynamo-item-size.js';

const READINGS: Record<DeviceType, (n: number) => Readings> = {
  'waste-container': (n) => ({ fillingLevel: Math.min(1, n / 288), temperature: 11.5 + (n % 7) / 10 }),
  'parking-spot': (n) => ({ status: Math.floor(n / 24) % 2 ? 'occupied' : 'free' }),
  'air-quality': (n) => ({ no2: 20 + (n % 30) + 0.1, pm25: 8.4, pm10: 15.2, o3: 61.3 }),
  'traffic-flow': (n) => ({
    intensity: 50 + (n % 40),
    averageVehicleSpeed: 41.5 - (n % 40) / 4,
    occupancy: 0.21,
    periodSeconds: 300,
  }),
  'water-level': (n) => ({ waterLevel: 1.21 + (n % 10) / 100 }),
};

export interface LayoutResult {
  readonly design: string;
  readonly writeUnitsPerReading: number;
  readonly storedBytesPerReading: number;
  readonly readUnitsFor24hChart: number;
}

/**
 * Writes one day of 5-minute readings for ten devices of each type twice, once through the platform's bucketed
 * store and once as one item per reading (the naive layout), into a real DynamoDB-compatible server, and reads
 * back the capacity each layout consumed and the bytes it stores.
 */
export async function measureStorageLayouts(): Promise<LayoutResult[]> {
  const dynamo = await startDynamo('bench');
  try {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const naiveTable = dynamo.names['processed-messages']; // any table with a string hash key serves as scratch
    let naiveWriteUnits = 0;
    let readings = 0;
    const devices = (Object.keys(READINGS) as DeviceType[]).flatMap((type) =>
      Array.from({ length: 10 }, (_, i) => ({ deviceId: `${type}-${String(i).padStart(3, '0')}`, type })),
    );
    for (const device of devices) {
      const points: TelemetryPoint[] = Array.from({ length: 288 }, (_, n) => {
        const observedAt = new Date(Date.UTC(2026, 10, 26, 0, n * 5)).toISOString();
        return {
          deviceId: device.deviceId,
          deviceType: device.type,
          messageId: `${device.deviceId}-${n.toString(36)}-7f3a`,
          observedAt,
          receivedAt: observedAt,
          readings: READINGS[device.type](n),
          ward: 'Abbey',
          site: 'Broad Street',
        };
      });
      readings += points.length;
      for (let i = 0; i < points.length; i += 25) await store.write(points.slice(i, i + 25));
      for (const point of points) {
        // The naive layout: every reading its own item, with everything about it repeated.
        const response = await dynamo.client.send(
          new PutCommand({
            TableName: naiveTable,
            Item: {
              messageKey: `${point.deviceId}#${point.observedAt}#${point.messageId}`,
              ...point,
              expiresAt: 1_800_000_000,
            },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        naiveWriteUnits += response.ConsumedCapacity?.CapacityUnits ?? 0;
      }
    }
    const bucketItems =
      (await dynamo.client.send(new ScanCommand({ TableName: dynamo.names.telemetry }))).Items ?? [];
    let naiveBytes = 0;
    let lastKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.client.send(
        new ScanCommand({ TableName: naiveTable, ExclusiveStartKey: lastKey }),
      );
      for (const item of page.Items ?? []) naiveBytes += itemBytes(item) + STORAGE_OVERHEAD_BYTES;
      lastKey = page.LastEvaluatedKey;
    } while (lastKey);
    const bucketBytes = bucketItems.reduce((sum, item) => sum + itemBytes(item) + STORAGE_OVERHEAD_BYTES, 0);

    const chartReads = { before: store.consumed.readUnits };
    await store.query({
      deviceId: devices[0]?.deviceId ?? '',
      from: '2026-11-26T00:00:00.000Z',
      to: '2026-11-26T23:59:59.999Z',
      limit: 1000,
    });
    const bucketChartUnits = store.consumed.readUnits - chartReads.before;
    // The naive layout's chart reads the device's 288 items of the day (on a device/time key).
    const naiveChartBytes = 288 * (naiveBytes / readings - STORAGE_OVERHEAD_BYTES);
    return [
      {
        design: 'platform: hourly bucket items',
        writeUnitsPerReading: store.consumed.writeUnits / readings,
        storedBytesPerReading: bucketBytes / readings,
        readUnitsFor24hChart: bucketChartUnits,
      },
      {
        design: 'naive: one item per reading',
        writeUnitsPerReading: naiveWriteUnits / readings,
        storedBytesPerReading: naiveBytes / readings,
        // Eventually consistent reads: half a unit per 4 KB read.
        readUnitsFor24hChart: Math.ceil(naiveChartBytes / 4096) / 2,
      },
    ];
  } finally {
    await dynamo.stop();
  }
}
