/** What `npm start` accepts, parsed. */
export interface CliOptions {
  readonly apiPort: number;
  readonly mqttPort: number;
  readonly dataDir: string;
  readonly simulator: boolean;
  readonly speed: number;
  readonly seed: string;
  /** Monthly ceiling for the local cost guard; undefined = cdk.json's monthlyCeilingUsd. */
  readonly ceilingUsd: number | undefined;
  /** Seconds between usage meter runs. */
  readonly meterSeconds: number;
  readonly help: boolean;
}

/** A flag the runtime does not accept, or a bad value; main prints it and exits with status 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export const USAGE = `Usage: npm start -- [options]

Runs the Civic IoT platform on this machine: MQTT broker (mutual TLS), DynamoDB-compatible store, ingest queues,
the same Lambda handlers, the REST API and a simulated town. Everything listens on 127.0.0.1 only.

Options:
  --api-port <port>    REST API port (default 3000; 0 picks a free one)
  --mqtt-port <port>   MQTT over TLS port (default 8883; 0 picks a free one)
  --data-dir <dir>     where data, queues and certificates are kept (default .civic)
  --no-simulator       do not start the demo city
  --speed <n>          simulated time runs n times faster (default 1; 0 < n <= 10000)
  --seed <text>        seed of the demo city (default reading)
  --ceiling-usd <x>    monthly ceiling for the local cost guard (default: monthlyCeilingUsd in cdk.json)
  --meter-seconds <n>  seconds between usage meter runs (default 300, as deployed; at least 1)
  --help               show this help
`;

function port(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    throw new CliUsageError(`${flag} must be a port number from 0 to 65535, got '${value}'`);
  }
  return Number(value);
}

/** Parses command-line flags (`--flag value` or `--flag=value`). Throws {@link CliUsageError} on anything else. */
export function parseCliOptions(argv: readonly string[]): CliOptions {
  const options = {
    apiPort: 3000,
    mqttPort: 8883,
    dataDir: '.civic',
    simulator: true,
    speed: 1,
    seed: 'reading',
    ceilingUsd: undefined as number | undefined,
    meterSeconds: 300,
    help: false,
  };
  const args = [...argv];
  while (args.length > 0) {
    const arg = args.shift() as string;
    const [flag = '', inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args.shift();
      if (v === undefined || v === '') throw new CliUsageError(`${flag} needs a value`);
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new CliUsageError(`${flag} takes no value`);
    };
    switch (flag) {
      case '--api-port':
        options.apiPort = port(flag, value());
        break;
      case '--mqtt-port':
        options.mqttPort = port(flag, value());
        break;
      case '--data-dir':
        options.dataDir = value();
        break;
      case '--no-simulator':
        noValue();
        options.simulator = false;
        break;
      case '--speed': {
        const raw = value();
        const speed = Number(raw);
        if (!Number.isFinite(speed) || speed <= 0 || speed > 10_000) {
          throw new CliUsageError(`--speed must be a number above 0 and at most 10000, got '${raw}'`);
        }
        options.speed = speed;
        break;
      }
      case '--seed':
        options.seed = value();
        break;
      case '--ceiling-usd': {
        const raw = value();
        const ceiling = Number(raw);
        if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(ceiling)) {
          throw new CliUsageError(`--ceiling-usd must be an amount in US dollars such as 0.05, got '${raw}'`);
        }
        options.ceilingUsd = ceiling;
        break;
      }
      case '--meter-seconds': {
        const raw = value();
        const seconds = Number(raw);
        if (!Number.isFinite(seconds) || seconds < 1 || seconds > 86_400) {
          throw new CliUsageError(`--meter-seconds must be a number from 1 to 86400, got '${raw}'`);
        }
        options.meterSeconds = seconds;
        break;
      }
      case '--help':
      case '-h':
        noValue();
        options.help = true;
        break;
      default:
        throw new CliUsageError(`unknown option '${arg}'`);
    }
  }
  if (options.apiPort !== 0 && options.apiPort === options.mqttPort) {
    throw new CliUsageError(`--api-port and --mqtt-port must differ (both ${options.apiPort})`);
  }
  return options;
}
