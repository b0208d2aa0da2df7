import { CliUsageError, parseCliOptions, USAGE } from './cli-options.js';
import { statusLine } from './platform-counters.js';
import { startLocalPlatform } from './start-local-platform.js';

/** How often the status line is printed. */
const STATUS_INTERVAL_MS = 5000;

/** `npm start`: runs the local platform until SIGINT or SIGTERM, then drains and exits 0. */
async function main(): Promise<void> {
  let options: ReturnType<typeof parseCliOptions>;
  try {
    options = parseCliOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    process.stderr.write(`civic-local: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }

  const started = Date.now();
  const platform = await startLocalPlatform({
    dataDir: options.dataDir,
    apiPort: options.apiPort,
    mqttPort: options.mqttPort,
    simulator: options.simulator,
    speed: options.speed,
    seed: options.seed,
    costGuard: {
      meterSeconds: options.meterSeconds,
      ...(options.ceilingUsd === undefined ? {} : { ceilingUsd: options.ceilingUsd }),
    },
  });
  const ceiling = platform.costGuard.settings.ceilingUsd;
  console.log(
    [
      `Civic IoT local platform ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `  API        ${platform.apiUrl}   (Authorization: Bearer <token from local.json>; open data: x-api-key <apiKey>)`,
      `  services   ${platform.services.enabled.join(', ') || 'none'} (GET /jobs, /alerts; notices in notifications.log)`,
      `  MQTT       ${platform.mqttUrl}   (mutual TLS; CA ${platform.caCertPath})`,
      `  data dir   ${platform.dataDir}`,
      `  settings   ${platform.settingsPath}`,
      `  cost guard ${Number.isFinite(ceiling) ? `ceiling $${ceiling} a month` : 'no ceiling'}, meter every ${options.meterSeconds} s (GET /cost, POST /cost/restore)`,
      'Ctrl+C drains in-flight work and stops; queued messages are kept for the next start.',
    ].join('\n'),
  );

  let previous = platform.counters.snapshot();
  const status = setInterval(() => {
    const current = platform.counters.snapshot();
    const backlog = Object.values(platform.queues).reduce((n, q) => n + q.queue.size, 0);
    const dead = Object.values(platform.queues).reduce((n, q) => n + q.deadLetter.size, 0);
    console.log(
      statusLine(
        previous,
        current,
        ` | queued ${backlog} | dlq ${dead}${platform.costGuard.guard.statusText()}`,
      ),
    );
    previous = current;
  }, STATUS_INTERVAL_MS);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(status);
    console.log(`${signal}: draining in-flight work...`);
    platform.stop().then(
      () => {
        console.log('stopped');
        process.exit(0);
      },
      (error: Error) => {
        console.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: Error) => {
  console.error(`civic-local: ${error.stack ?? error.message}`);
  process.exit(1);
});
