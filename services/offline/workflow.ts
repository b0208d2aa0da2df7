import type { Device } from '../../lambdas/domain/device.js';
import type { ServiceWorkflow, WorkflowContext } from '../shared/blueprint.js';
import { type DomainEvent, epochMs } from '../shared/domain-events.js';
import type { Job } from '../shared/jobs.js';
import type { JobBook, WorkflowPorts } from '../shared/workflow-ports.js';
import { applyJobDecision } from '../shared/workflow-steps.js';
import { deviceHeard, liveness, maintenanceJobDecision, offlineSweep } from './rules.js';

const SERVICE = 'offline';

/** The events this workflow acts on; the sweep itself produces them, and it accepts them from the bus too. */
export const OFFLINE_EVENT_TYPES = ['device.offline', 'device.online'] as const;

/** What one sweep found, for the log line and the tests. */
export interface SweepOutcome {
  /** Devices whose silence was measured. */
  readonly checked: number;
  /** Devices that went offline in this sweep and got a maintenance job. */
  readonly wentOffline: readonly string[];
  /** Devices heard again whose maintenance job this sweep closed. */
  readonly backOnline: readonly string[];
  /** Devices left out, with why. */
  readonly skipped: readonly { readonly deviceId: string; readonly reason: string }[];
}

/**
 * The jobs a liveness event is decided against. `device.online` closes only a job opened before the reading it
 * carries: a late or replayed "heard at 10:00" must not close the job of a silence that began at 11:00, and a
 * device the sweep calls online only because its expected interval was raised has not been heard since.
 */
function jobsAsObserved(jobs: readonly Job[], event: DomainEvent): readonly Job[] {
  if (event.type !== 'device.online') return jobs;
  return jobs.filter((job) => epochMs(job.openedAt) < epochMs(event.observedAt));
}

async function applyLivenessEvent(
  ports: WorkflowPorts,
  event: DomainEvent,
  jobs: readonly Job[],
  device: Device | undefined,
) {
  const decision = maintenanceJobDecision(
    jobsAsObserved(jobs, event),
    event,
    device === undefined ? {} : { location: device.location },
  );
  return applyJobDecision(ports, decision);
}

/**
 * The offline sweep: every active device with an expected interval, measured against the platform's rule
 * (`offlineAfterSeconds`: three intervals, never less than the latest-state refresh plus one interval). Intervals
 * in the registry are real seconds and so is the silence, so nothing here is divided by the time scale.
 *
 * The active maintenance jobs are read once per sweep (one query per status), not once per device: a fleet of
 * thousands is swept every five minutes.
 */
export async function sweepFleet(ports: WorkflowPorts, context: WorkflowContext): Promise<SweepOutcome> {
  const now = context.now.toISOString();
  const [fleet, active] = await Promise.all([
    ports.fleet.devicesWithLatest(),
    activeMaintenanceJobs(ports.jobs),
  ]);
  const wentOffline: string[] = [];
  const backOnline: string[] = [];
  const skipped: { deviceId: string; reason: string }[] = [];
  let checked = 0;
  for (const { device, latest } of fleet) {
    const interval = device.expectedIntervalSeconds;
    if (device.status === 'decommissioned') {
      skipped.push({ deviceId: device.deviceId, reason: 'decommissioned: not expected to report' });
      continue;
    }
    if (interval === undefined || !(interval > 0)) {
      skipped.push({ deviceId: device.deviceId, reason: 'no expected interval in the registry' });
      continue;
    }
    checked += 1;
    // A device never heard is measured from its registration: installed and silent is offline too.
    const last = latest ?? {
      deviceId: device.deviceId,
      deviceType: device.deviceType,
      ...(device.site === undefined ? {} : { site: device.site }),
      ...(device.ward === undefined ? {} : { ward: device.ward }),
      readings: {},
      observedAt: device.registeredAt,
    };
    const jobs = active.get(device.deviceId) ?? [];
    const status = liveness(last.observedAt, now, interval);
    if (status === 'offline' && jobs.length === 0) {
      for (const event of offlineSweep('online', last, now, interval).events) {
        const { opened } = await applyLivenessEvent(ports, event, jobs, device);
        if (opened.length > 0) wentOffline.push(device.deviceId);
      }
    } else if (status === 'online' && jobs.length > 0 && latest !== undefined) {
      for (const event of deviceHeard('offline', latest).events) {
        const { closed } = await applyLivenessEvent(ports, event, jobs, device);
        if (closed.length > 0) backOnline.push(device.deviceId);
      }
    }
  }
  return { checked, wentOffline, backOnline, skipped };
}

/** Every maintenance job not done, by device. */
async function activeMaintenanceJobs(jobs: JobBook): Promise<Map<string, Job[]>> {
  const byDevice = new Map<string, Job[]>();
  for (const status of ['open', 'scheduled'] as const) {
    let cursor: string | undefined;
    do {
      const page = await jobs.list({
        service: SERVICE,
        status,
        limit: 100,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const job of page.items) {
        if (job.kind !== 'maintenance') continue;
        byDevice.set(job.deviceId, [...(byDevice.get(job.deviceId) ?? []), job]);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  return byDevice;
}

/**
 * Offline devices workflow: the schedule sweeps the fleet; `device.offline` and `device.online` from the bus
 * are applied the same way, so either path opens at most one maintenance job per silence and closes it when
 * the device is heard again.
 */
export const offlineWorkflow: ServiceWorkflow = {
  async onEvent(event, ports) {
    if (!(OFFLINE_EVENT_TYPES as readonly string[]).includes(event.type)) return;
    const [jobs, devices] = await Promise.all([
      ports.jobs.activeAt(event.deviceId, event.observedAt),
      ports.devices.findMany([event.deviceId]),
    ]);
    await applyLivenessEvent(ports, event, jobs, devices.get(event.deviceId));
  },

  async onSchedule(ports, context) {
    await sweepFleet(ports, context);
  },
};
