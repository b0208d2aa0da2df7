/**
 * `npm run cost -- --devices 1000 --interval 5m --region eu-west-2 [--api-requests-per-day N]
 *   [--retention-days N] [--telemetry-store dynamodb|timestream] [--services waste,flood|none] [--json]`
 *
 * Prints the monthly cost of the platform as built beside the naive design, from the same constants the stacks
 * use. Both run the service blueprints named (default: every one, as cdk.json enables them) on the demo town's
 * fleet mix (DEFAULT_FLEET_MIX; a deployment states its own with config `fleetMix`). Bad arguments exit with
 * code 2 and say what was wrong.
 */

import { TELEMETRY_STORES } from '../lambdas/contracts/environment.js';
import { pricesFor } from '../lambdas/contracts/prices.js';
import {
  COST_ASSUMPTIONS,
  type CostEstimate,
  type CostProfile,
  costGuardUsd,
  DEFAULT_FLEET_MIX,
  estimateNaive,
  estimatePlatform,
} from '../lambdas/domain/cost-model.js';
import { CONFIG_DEFAULTS, REGION_PATTERN } from '../lib/config/platform-config.js';
import { serviceLoads } from '../lib/cost/platform-estimate.js';
import { BLUEPRINT_NAMES } from '../services/catalogue.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const USAGE =
  'usage: npm run cost -- --devices N --interval 5m --region eu-west-2 [--api-requests-per-day N] ' +
  '[--retention-days N] [--telemetry-store dynamodb|timestream] [--services waste,flood|none] [--json]';

export interface CostArguments extends CostProfile {
  readonly region: string;
  readonly json: boolean;
}

/** Parses `30s`, `5m`, `1h` or plain seconds. */
export function parseInterval(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  if (!match) throw new UsageError(`--interval '${value}' is not a duration; use e.g. 30s, 5m or 1h`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 's' | 'm' | 'h'];
  if (seconds < 10 || seconds > 86_400)
    throw new UsageError(`--interval '${value}' must be between 10s and 24h`);
  return seconds;
}

function positiveInteger(flag: string, value: string | undefined, min: number): number {
  const number = Number(value);
  if (value === undefined || !Number.isInteger(number) || number < min) {
    throw new UsageError(`${flag} '${value ?? ''}' must be a whole number of at least ${min}`);
  }
  return number;
}

export function parseCostArguments(argv: readonly string[]): CostArguments {
  const values = new Map<string, string>();
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === '--json') {
      json = true;
      continue;
    }
    if (
      ![
        '--devices',
        '--interval',
        '--region',
        '--api-requests-per-day',
        '--retention-days',
        '--telemetry-store',
        '--services',
      ].includes(flag)
    ) {
      throw new UsageError(`unknown argument '${flag}'\n${USAGE}`);
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--'))
      throw new UsageError(`${flag} needs a value\n${USAGE}`);
    values.set(flag, value);
    i++;
  }
  if (!values.has('--devices')) throw new UsageError(`--devices is required\n${USAGE}`);
  const store = values.get('--telemetry-store') ?? 'dynamodb';
  if (!(TELEMETRY_STORES as readonly string[]).includes(store)) {
    throw new UsageError(`--telemetry-store '${store}' is not one of: ${TELEMETRY_STORES.join(', ')}`);
  }
  const services = parseServices(values.get('--services'));
  const region = values.get('--region') ?? CONFIG_DEFAULTS.region;
  if (!REGION_PATTERN.test(region)) throw new UsageError(`--region '${region}' is not an AWS region code`);
  return {
    devices: positiveInteger('--devices', values.get('--devices'), 1),
    messageIntervalSeconds: parseInterval(values.get('--interval') ?? '5m'),
    apiRequestsPerDay: positiveInteger(
      '--api-requests-per-day',
      values.get('--api-requests-per-day') ?? String(CONFIG_DEFAULTS.apiRequestsPerDay),
      0,
    ),
    retentionDays: positiveInteger(
      '--retention-days',
      values.get('--retention-days') ?? String(CONFIG_DEFAULTS.retentionDays),
      1,
    ),
    telemetryStore: store as CostProfile['telemetryStore'],
    services: serviceLoads(services),
    fleetMix: DEFAULT_FLEET_MIX,
    region,
    json,
  };
}

/** `waste,flood`, `none`, or absent for every blueprint in the catalogue. */
function parseServices(value: string | undefined): readonly string[] {
  if (value === undefined) return BLUEPRINT_NAMES;
  if (value.trim() === 'none') return [];
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = names.filter((name) => !BLUEPRINT_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--services: unknown service ${unknown.map((name) => `'${name}'`).join(', ')}; known: ${BLUEPRINT_NAMES.join(', ')} (or none)`,
    );
  }
  return names;
}

const usd = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(3);

function table(estimate: CostEstimate): string[] {
  const rows = estimate.lines.map((line) => [
    line.service,
    line.item,
    `$${usd(line.monthlyUsd)}`,
    line.fallback ? '*' : '',
  ]);
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => (row[col] as string).length)));
  return rows.map(
    (row) =>
      `  ${(row[0] as string).padEnd(widths[0] as number)}  ${(row[1] as string).padEnd(widths[1] as number)}  ${(row[2] as string).padStart(widths[2] as number)}${row[3] ? ' *' : ''}`,
  );
}

export function renderCostReport(args: CostArguments): string {
  const prices = pricesFor(args.region);
  const platform = estimatePlatform(args, prices);
  const naive = estimateNaive(args, prices);
  if (args.json) {
    return JSON.stringify(
      {
        platform: {
          totalUsd: platform.totalUsd,
          perDeviceUsd: platform.perDeviceUsd,
          perMillionMessagesUsd: platform.perMillionMessagesUsd,
          costGuardUsd: costGuardUsd(platform),
          lines: platform.lines,
        },
        naive: {
          totalUsd: naive.totalUsd,
          perDeviceUsd: naive.perDeviceUsd,
          perMillionMessagesUsd: naive.perMillionMessagesUsd,
          lines: naive.lines,
        },
        assumptions: {
          ...args,
          json: undefined,
          services: (args.services ?? []).map((service) => service.name),
          messagesPerMonth: platform.messagesPerMonth,
          ...COST_ASSUMPTIONS,
        },
      },
      null,
      2,
    );
  }
  const fallbacks = [
    ...new Set([...platform.lines, ...naive.lines].flatMap((line) => (line.fallback ? [line.fallback] : []))),
  ];
  const out = [
    `Monthly cost estimate: ${args.devices.toLocaleString('en-GB')} devices, one reading every ${args.messageIntervalSeconds} s, ` +
      `${args.region}, ${args.telemetryStore} store, ${args.retentionDays}-day retention, ${args.apiRequestsPerDay.toLocaleString('en-GB')} API requests/day`,
    `(${(platform.messagesPerMonth / 1e6).toFixed(2)} million messages a month; 30-day month; list prices in USD, no free tier)`,
    `Services: ${(args.services ?? []).map((service) => service.name).join(', ') || 'none'}; fleet mix: ${Object.entries(
      args.fleetMix ?? DEFAULT_FLEET_MIX,
    )
      .map(([type, share]) => `${type} ${(share * 100).toFixed(0)}%`)
      .join(', ')}`,
    '',
    'Platform as built (Basic Ingest -> SQS -> batched enrichment -> bucketed store, write-on-change):',
    ...table(platform),
    `  TOTAL $${usd(platform.totalUsd)} a month  |  $${usd(platform.perDeviceUsd)} per device  |  $${usd(platform.perMillionMessagesUsd)} per million messages`,
    `  (of which the cost guard itself, the "cost guard:" lines: $${usd(costGuardUsd(platform))} a month)`,
    '',
    'Naive design (rule invokes Lambda per message, registry read and store write per message):',
    ...table(naive),
    `  TOTAL $${usd(naive.totalUsd)} a month  |  $${usd(naive.perDeviceUsd)} per device  |  $${usd(naive.perMillionMessagesUsd)} per million messages`,
    '',
    `Platform / naive: ${((platform.totalUsd / naive.totalUsd) * 100).toFixed(1)}%`,
  ];
  if (fallbacks.length > 0) out.push('', ...fallbacks.map((f) => `* ${f}`));
  return out.join('\n');
}

async function main(): Promise<void> {
  try {
    console.log(renderCostReport(parseCostArguments(process.argv.slice(2))));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`cost: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
