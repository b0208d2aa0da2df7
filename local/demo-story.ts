/**
 * What happens in the demo town soon after the simulator starts, whatever the time of day, so that a ten-minute
 * demo at `--speed 60` (ten simulated hours) shows every service at work: a storm that sends the brooks and the
 * Vastern Road gully over their warning levels, a bin fire, and a broken-down lorry that jams one road. Times are
 * simulated hours after the start; the story plays again at every start (it is a demo, not a history).
 */
export const DEMO_STORY = {
  /** Heavy rain over the whole town: about 40 mm in three hours, a one-in-a-few-years storm for Reading. */
  storm: { startHours: 0.25, hours: 3, mmPerHour: 14 },
  /** A bin set alight: it reports `burning` for an hour and a half, then `ok` once the fire crew has been. */
  binFire: { deviceId: 'rdg-bin-007', startHours: 1.5, hours: 1.5 },
  /** A broken-down lorry on Oxford Road westbound: traffic crawls past it for two and a half hours. */
  breakdown: { deviceId: 'rdg-traffic-03', startHours: 1, hours: 2.5, speedFraction: 0.25, occupancy: 0.62 },
} as const;

const HOUR_MS = 3_600_000;

/** True while the story's episode is on at `simMs`, for a simulator started at `startMs`. */
export function during(
  episode: { readonly startHours: number; readonly hours: number },
  startMs: number,
  simMs: number,
): boolean {
  const from = startMs + episode.startHours * HOUR_MS;
  return simMs >= from && simMs < from + episode.hours * HOUR_MS;
}
