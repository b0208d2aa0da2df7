import type { Readings } from '../lambdas/contracts/device-types.js';
import type { DemoDevice } from './demo-city.js';
import { DEMO_STORY, during } from './demo-story.js';
import { SeededRandom } from './seeded-random.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A device's physics: given the simulated time, what it measures now. Each model keeps its own state. */
export interface DeviceModel {
  readonly deviceId: string;
  /** Readings at `simMs` (simulated epoch ms); calls come with non-decreasing times. */
  read(simMs: number): { readings: Readings; battery: number };
}

const londonParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hour: 'numeric',
  minute: 'numeric',
  weekday: 'short',
  hourCycle: 'h23',
});
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Local (UK) clock for a simulated instant: the town lives on London time, daylight saving included. */
export function ukClock(simMs: number): { hour: number; weekday: number } {
  let hour = 0;
  let minute = 0;
  let weekday = 0;
  for (const part of londonParts.formatToParts(new Date(simMs))) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'weekday') weekday = WEEKDAYS.indexOf(part.value);
  }
  return { hour: hour + minute / 60, weekday };
}

const bell = (x: number, centre: number, width: number) => Math.exp(-((x - centre) ** 2) / (2 * width ** 2));
const clamp = (x: number, min: number, max: number) => Math.min(max, Math.max(min, x));
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Road demand through the day, 0..~1.1: a morning peak around 08:15, a broader evening one around 17:30, and
 * daytime traffic in between. Weekends have no commute, a later and flatter day.
 */
export function trafficDemand(simMs: number): number {
  const { hour, weekday } = ukClock(simMs);
  const weekend = weekday === 0 || weekday === 6;
  const daytime = clamp((hour - 5.5) / 2, 0, 1) * clamp((23 - hour) / 3, 0, 1);
  if (weekend) return 0.08 + 0.55 * daytime * bell(hour, 13.5, 4);
  return 0.08 + 0.4 * daytime + 0.6 * bell(hour, 8.25, 0.8) + 0.55 * bell(hour, 17.5, 1.1);
}

/**
 * Rain over the town, mm/h: shared by every gauge. Six-hour blocks, each wet with some chance, seeded; plus the
 * demo story's storm (see demo-story.ts) when the simulator's start is given.
 */
export function rainfall(seed: string, simMs: number, startMs?: number): number {
  if (startMs !== undefined && during(DEMO_STORY.storm, startMs, simMs)) return DEMO_STORY.storm.mmPerHour;
  const block = Math.floor(simMs / (6 * HOUR_MS));
  const random = SeededRandom.derive(seed, `rain/${block}`);
  if (!random.chance(0.14)) return 0;
  const start = random.between(0, 4);
  const duration = random.between(1, 5);
  const intensity = random.between(0.5, 9);
  const inBlock = (simMs - block * 6 * HOUR_MS) / HOUR_MS;
  return inBlock >= start && inBlock <= start + duration ? intensity : 0;
}

function batteryModel(random: SeededRandom, startMs: number) {
  const initial = random.between(0.6, 1);
  // Primary cells lose a few percent a month in the field.
  const perDay = random.between(0.0005, 0.0015);
  return (simMs: number) => round(clamp(initial - ((simMs - startMs) / DAY_MS) * perDay, 0.05, 1), 3);
}

/** Bins fill over days (faster on weekends in the centre) and are emptied on their collection days around 07:00. */
function wasteContainer(demo: DemoDevice, random: SeededRandom, startMs: number): DeviceModel['read'] {
  const perDay = demo.traits.fillPerDay ?? 0.15;
  const days = demo.traits.collectionDays ?? [1];
  // Some bins start nearly full, so a short demo already has collections to plan.
  let fill = random.between(0, 0.82);
  let last = startMs;
  const battery = batteryModel(random, startMs);
  return (simMs) => {
    // Walk forward in steps of at most an hour so a collection between two reports is not missed.
    for (let t = last; t < simMs; ) {
      const step = Math.min(HOUR_MS, simMs - t);
      const before = ukClock(t);
      const after = ukClock(t + step);
      const crossedSeven = before.hour < 7 && (after.hour >= 7 || after.weekday !== before.weekday);
      if (crossedSeven && days.includes(after.weekday)) fill = random.between(0, 0.04);
      const busy = after.hour > 8 && after.hour < 20 ? 1.6 : 0.3;
      const weekend = after.weekday === 0 || after.weekday === 6 ? 1.25 : 1;
      fill += (perDay * busy * weekend * step) / DAY_MS;
      t += step;
    }
    last = Math.max(last, simMs);
    fill = clamp(fill + random.gaussian() * 0.004, 0, 1);
    const { hour } = ukClock(simMs);
    const temperature = round(9 + 5 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + random.gaussian() * 0.6, 1);
    const onFire =
      demo.device.deviceId === DEMO_STORY.binFire.deviceId && during(DEMO_STORY.binFire, startMs, simMs);
    const status = onFire ? 'burning' : random.chance(0.004) ? 'lidOpen' : 'ok';
    return { readings: { fillingLevel: round(fill, 3), temperature, status }, battery: battery(simMs) };
  };
}

/** Bays turn over every hour or two; the chance a bay is taken follows the shopping and working day. */
function parkingSpot(demo: DemoDevice, random: SeededRandom, startMs: number): DeviceModel['read'] {
  const peak = demo.traits.peakOccupancy ?? 0.9;
  const target = (simMs: number) => {
    const { hour, weekday } = ukClock(simMs);
    const dayShape =
      weekday === 0 ? 0.55 * bell(hour, 13, 2.5) : weekday === 6 ? bell(hour, 13, 3) : bell(hour, 12.5, 3.2);
    return clamp(0.04 + peak * dayShape, 0, 0.99);
  };
  let occupied = random.chance(target(startMs));
  let last = startMs;
  const averageStayMs = random.between(1, 2.5) * HOUR_MS;
  const battery = batteryModel(random, startMs);
  return (simMs) => {
    const turnover = 1 - Math.exp(-(simMs - last) / averageStayMs);
    if (random.chance(turnover)) occupied = random.chance(target(simMs));
    last = Math.max(last, simMs);
    return { readings: { status: occupied ? 'occupied' : 'free' }, battery: battery(simMs) };
  };
}

/** NO2 follows traffic (rush-hour peaks, worst at the kerb); ozone is highest at midday and eaten by NO. */
function airQuality(demo: DemoDevice, random: SeededRandom, startMs: number): DeviceModel['read'] {
  const roadside = demo.traits.roadside ?? 0.5;
  const battery = batteryModel(random, startMs);
  return (simMs) => {
    const demand = trafficDemand(simMs);
    const { hour } = ukClock(simMs);
    const no2 = clamp(11 + 55 * roadside * demand + random.gaussian() * 4, 1, 400);
    const pm25 = clamp(5 + 9 * roadside * demand + random.gaussian() * 1.5, 0.5, 300);
    const pm10 = clamp(pm25 * random.between(1.4, 1.9), 1, 500);
    const sun = clamp(Math.sin(((hour - 6) / 14) * Math.PI), 0, 1);
    const o3 = clamp(38 + 30 * sun - 0.35 * no2 + random.gaussian() * 4, 1, 300);
    return {
      readings: { no2: round(no2, 1), pm25: round(pm25, 1), pm10: round(pm10, 1), o3: round(o3, 1) },
      battery: battery(simMs),
    };
  };
}

/**
 * Counts per one-minute period. Speed comes from volume through the BPR link-performance curve, so more cars
 * always means slower traffic; occupancy is flow times vehicle length over speed.
 */
function trafficFlow(demo: DemoDevice, random: SeededRandom, startMs: number): DeviceModel['read'] {
  const lanes = demo.traits.lanes ?? 1;
  const freeFlow = demo.traits.freeFlowKmh ?? 48;
  const periodSeconds = 60;
  // 1,800 vehicles per lane-hour is a common urban saturation flow.
  const capacity = (lanes * 1800 * periodSeconds) / 3600;
  const battery = batteryModel(random, startMs);
  return (simMs) => {
    const intensity = Math.max(
      0,
      Math.round(capacity * 0.95 * trafficDemand(simMs) * (1 + random.gaussian() * 0.08)),
    );
    const ratio = intensity / capacity;
    // BPR with alpha 0.9 instead of the highway 0.15: signalised town roads slow down well before capacity.
    const speed = clamp(freeFlow / (1 + 0.9 * ratio ** 4) + random.gaussian() * 1.5, 3, freeFlow + 8);
    const flowPerSecond = intensity / periodSeconds / lanes;
    const occupancy = clamp((flowPerSecond * 5.5) / (speed / 3.6), 0, 0.98);
    const { breakdown } = DEMO_STORY;
    if (demo.device.deviceId === breakdown.deviceId && during(breakdown, startMs, simMs)) {
      // Queuing past the lorry: a crawl over a detector that is covered most of the time, whatever the demand.
      return {
        readings: {
          intensity: Math.max(1, Math.round(intensity * 0.5)),
          averageVehicleSpeed: round(freeFlow * breakdown.speedFraction + random.gaussian() * 1.2, 1),
          occupancy: round(clamp(breakdown.occupancy + random.gaussian() * 0.04, 0.35, 0.95), 3),
          periodSeconds,
        },
        battery: battery(simMs),
      };
    }
    return {
      readings: {
        intensity,
        averageVehicleSpeed: round(speed, 1),
        occupancy: round(occupancy, 3),
        periodSeconds,
      },
      battery: battery(simMs),
    };
  };
}

/** A two-store catchment: rain fills the soil store, which drains to the channel; levels rise hours after rain. */
function waterLevel(
  demo: DemoDevice,
  random: SeededRandom,
  startMs: number,
  seed: string,
): DeviceModel['read'] {
  const base = demo.traits.baseLevel ?? 0.5;
  const gain = demo.traits.rainGain ?? 0.05;
  let soil = 0;
  let channel = 0;
  let last = startMs - 2 * DAY_MS;
  const battery = batteryModel(random, startMs);
  return (simMs) => {
    for (let t = last; t < simMs; ) {
      const step = Math.min(15 * 60_000, simMs - t);
      const hours = step / HOUR_MS;
      const rain = rainfall(seed, t, startMs);
      const drain = soil * 0.25 * hours;
      soil += rain * hours - drain;
      channel += drain - channel * 0.12 * hours;
      t += step;
    }
    last = Math.max(last, simMs);
    return {
      readings: { waterLevel: round(base + gain * channel + random.gaussian() * 0.004, 3) },
      battery: battery(simMs),
    };
  };
}

/** Builds the model for a demo device; its random stream comes from the seed and the device id only. */
export function createDeviceModel(demo: DemoDevice, seed: string, startMs: number): DeviceModel {
  const random = SeededRandom.derive(seed, demo.device.deviceId);
  const read = (() => {
    switch (demo.device.deviceType) {
      case 'waste-container':
        return wasteContainer(demo, random, startMs);
      case 'parking-spot':
        return parkingSpot(demo, random, startMs);
      case 'air-quality':
        return airQuality(demo, random, startMs);
      case 'traffic-flow':
        return trafficFlow(demo, random, startMs);
      case 'water-level':
        return waterLevel(demo, random, startMs, seed);
    }
  })();
  return { deviceId: demo.device.deviceId, read };
}
