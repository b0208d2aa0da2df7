import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { COST_AUDIT_RETENTION_DAYS, COST_GUARD_KEYS, TTL_ATTRIBUTE } from '../contracts/tables.js';
import { ESSENTIAL_LANE, type Lane } from '../contracts/topics.js';
import {
  type AuditEntry,
  type CostRecords,
  type DegradeSettings,
  FULL_SERVICE,
} from '../domain/cost-control.js';
import type { ReadingSampling } from '../domain/enrich-telemetry.js';
import type { GuardState } from '../domain/spending-guard.js';
import type { SpendingLedger } from '../domain/usage-meter.js';
import { batchPut } from './dynamodb-batches.js';

/** Another meter run saved the ledger since this run read it; this run's interval is left to the next run. */
export class LedgerConflictError extends Error {
  constructor(month: string) {
    super(
      `the ${month} ledger changed since this run read it (another meter run overlapped); ` +
        'this run is discarded and the next one meters the interval',
    );
    this.name = 'LedgerConflictError';
  }
}

export interface DynamoDbCostRecordsOptions {
  /** How long audit entries are kept (TTL). @default COST_AUDIT_RETENTION_DAYS */
  readonly auditRetentionDays?: number;
}

/**
 * The cost guard's records in the `cost-guard` table (layout in {@link COST_GUARD_KEYS}).
 *
 * The ledger is a chain: each run continues from the `meteredUntil` it read. Saving is conditional on that value
 * being unchanged, so two overlapping runs (the schedule and a Budgets notice) can never both add their interval;
 * the loser fails and the next run covers its interval, so nothing is counted twice or lost.
 */
export class DynamoDbCostRecords implements CostRecords {
  /** What {@link loadLedger} last saw: undefined before any load, null when there was no ledger. */
  private loaded: { month: string; meteredUntil: string } | null | undefined;
  private sequence = 0;
  private readonly auditRetentionSeconds: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoDbCostRecordsOptions = {},
  ) {
    this.auditRetentionSeconds = (options.auditRetentionDays ?? COST_AUDIT_RETENTION_DAYS) * 86_400;
  }

  async loadLedger(): Promise<SpendingLedger | undefined> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'recordKey = :ledger',
        ExpressionAttributeValues: { ':ledger': COST_GUARD_KEYS.ledgerPartition },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = response.Items?.[0];
    if (!item) {
      this.loaded = null;
      return undefined;
    }
    const ledger: SpendingLedger = {
      month: item.month as string,
      monthToDateUsd: item.monthToDateUsd as number,
      burnRateUsdPerHour: item.burnRateUsdPerHour as number,
      forecastUsd: item.forecastUsd as number,
      meteredUntil: item.meteredUntil as string,
      ...(typeof item.reconciledUntil === 'string' ? { reconciledUntil: item.reconciledUntil } : {}),
      ...(typeof item.provisionalUsd === 'number' ? { provisionalUsd: item.provisionalUsd } : {}),
    };
    this.loaded = { month: ledger.month, meteredUntil: ledger.meteredUntil };
    return ledger;
  }

  async saveLedger(ledger: SpendingLedger): Promise<void> {
    const continues = this.loaded && this.loaded.month === ledger.month ? this.loaded : undefined;
    const condition = continues
      ? {
          ConditionExpression: 'meteredUntil = :previous',
          ExpressionAttributeValues: { ':previous': continues.meteredUntil },
        }
      : this.loaded === undefined
        ? {}
        : { ConditionExpression: 'attribute_not_exists(recordKey)' };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { recordKey: COST_GUARD_KEYS.ledgerPartition, sortKey: ledger.month, ...ledger },
          ...condition,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new LedgerConflictError(ledger.month);
      throw error;
    }
    this.loaded = { month: ledger.month, meteredUntil: ledger.meteredUntil };
  }

  async loadGuardState(): Promise<GuardState | undefined> {
    const item = await this.get(COST_GUARD_KEYS.guardState);
    if (!item) return undefined;
    return {
      month: item.month as string,
      tier: item.tier as GuardState['tier'],
      announcedThreshold: item.announcedThreshold as number,
      forecastAnnounced: item.forecastAnnounced as boolean,
      ...(typeof item.restoredAtUsd === 'number' ? { restoredAtUsd: item.restoredAtUsd } : {}),
    };
  }

  async saveGuardState(state: GuardState): Promise<void> {
    await this.put({ ...COST_GUARD_KEYS.guardState, ...state });
  }

  async loadDegradeSettings(): Promise<DegradeSettings> {
    const item = await this.get(COST_GUARD_KEYS.degradeSettings);
    if (!item) return FULL_SERVICE;
    return {
      sampleRates: (item.sampleRates ?? {}) as DegradeSettings['sampleRates'],
      openDataNarrowed: item.openDataNarrowed === true,
    };
  }

  async saveDegradeSettings(settings: DegradeSettings): Promise<void> {
    await this.put({ ...COST_GUARD_KEYS.degradeSettings, ...settings });
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const items = entries.map((entry) => ({
      recordKey: COST_GUARD_KEYS.auditPartition,
      // Time first so a descending query is newest first; the per-process sequence keeps entries written in the
      // same millisecond in order, the random part keeps two processes from overwriting each other.
      sortKey: `${entry.at}#${String(this.sequence++).padStart(6, '0')}#${randomUUID().slice(0, 8)}`,
      // JSON round trip: an unset ceiling is Infinity in the domain, which DynamoDB cannot store (becomes null).
      entry: JSON.parse(JSON.stringify(entry)) as Record<string, unknown>,
      [TTL_ATTRIBUTE]: Math.floor(Date.parse(entry.at) / 1000) + this.auditRetentionSeconds,
    }));
    const unwritten = await batchPut(this.client, this.tableName, items, (item) => item.sortKey as string);
    if (unwritten.length > 0) throw new Error(`${unwritten.length} audit entries could not be written`);
  }

  async recentAudit(limit: number): Promise<readonly AuditEntry[]> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'recordKey = :audit',
        ExpressionAttributeValues: { ':audit': COST_GUARD_KEYS.auditPartition },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (response.Items ?? []).map((item) => {
      const entry = item.entry as AuditEntry;
      const ceilingUsd = entry.reading.ceilingUsd ?? Number.POSITIVE_INFINITY;
      return { ...entry, reading: { ...entry.reading, ceilingUsd } };
    });
  }

  private async get(key: {
    recordKey: string;
    sortKey: string;
  }): Promise<Record<string, unknown> | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return response.Item;
  }

  private async put(item: Record<string, unknown>): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }
}

/**
 * The degrade settings as the enrichment functions see them: read at most once per `ttlMs` per function instance
 * (one GetItem a minute, not one per batch). Fails open: when the table cannot be read, the last known settings
 * (or full service) apply, because dropping readings by mistake is worse than storing a few too many.
 */
export class CachedDegradeSettings {
  private cached: { settings: DegradeSettings; expiresAt: number } | undefined;

  constructor(
    private readonly source: Pick<CostRecords, 'loadDegradeSettings'>,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async current(): Promise<DegradeSettings> {
    const now = this.clock();
    if (this.cached && this.cached.expiresAt > now) return this.cached.settings;
    let settings: DegradeSettings;
    try {
      settings = await this.source.loadDegradeSettings();
    } catch (error) {
      this.onError(error);
      settings = this.cached?.settings ?? FULL_SERVICE;
    }
    this.cached = { settings, expiresAt: now + this.ttlMs };
    return settings;
  }
}

/** One lane's sampling rate from the degrade settings. The essential lane is never sampled, whatever they say. */
export class LaneSampling implements ReadingSampling {
  constructor(
    private readonly settings: Pick<CachedDegradeSettings, 'current'>,
    private readonly lane: Lane,
  ) {}

  async keepRate(): Promise<number> {
    if (this.lane === ESSENTIAL_LANE) return 1;
    const rate = (await this.settings.current()).sampleRates[this.lane];
    return typeof rate === 'number' && rate >= 0 && rate <= 1 ? rate : 1;
  }
}
