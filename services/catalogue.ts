import { airQualityBlueprint } from './air-quality/blueprint.js';
import { floodBlueprint } from './flood/blueprint.js';
import { offlineBlueprint } from './offline/blueprint.js';
import { parkingBlueprint } from './parking/blueprint.js';
import type { ServiceBlueprint } from './shared/blueprint.js';
import { trafficBlueprint } from './traffic/blueprint.js';
import { wasteBlueprint } from './waste/blueprint.js';

/**
 * Every service blueprint this platform ships, in the order the docs list them. Adding a service is one folder
 * under `services/` and one line here; config `services` chooses which of these a deployment runs
 * (default: all of them).
 */
export const BLUEPRINTS: readonly ServiceBlueprint[] = [
  wasteBlueprint,
  parkingBlueprint,
  airQualityBlueprint,
  trafficBlueprint,
  floodBlueprint,
  offlineBlueprint,
];

export const BLUEPRINT_NAMES: readonly string[] = BLUEPRINTS.map((b) => b.name);

/** The blueprints with these names, in catalogue order; throws naming any unknown name and the known ones. */
export function blueprintsNamed(names: readonly string[]): ServiceBlueprint[] {
  const unknown = names.filter((name) => !BLUEPRINT_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown service blueprint ${unknown.map((n) => `'${n}'`).join(', ')}; known: ${BLUEPRINT_NAMES.join(', ')}`,
    );
  }
  return BLUEPRINTS.filter((b) => names.includes(b.name));
}

export function blueprintNamed(name: string): ServiceBlueprint {
  const [blueprint] = blueprintsNamed([name]);
  if (!blueprint) throw new Error(`unknown service blueprint '${name}'`);
  return blueprint;
}
