/**
 * IoT thing attributes as the platform writes them (`type`, `ward`, `site`, and `serial` for a device that
 * provisioned itself by claim). They are labels for people browsing the IoT console, not the source of truth (the
 * registry is), so one rule serves every place that sets them: `add`'s CreateThing and the fleet provisioning
 * template's parameters.
 */

// The characters IoT accepts in a thing attribute value (AttributePayload in the IoT API reference).
const ATTRIBUTE_VALUE_DISALLOWED = /[^a-zA-Z0-9_.,@/:#=[\]-]/g;
const ATTRIBUTE_VALUE_MAX_LENGTH = 800;

/**
 * A value IoT accepts as a thing attribute: a ward or site name with characters IoT refuses (spaces, apostrophes)
 * is kept readable with `_` instead of failing the whole onboarding, and cut to IoT's 800 characters.
 */
export function thingAttributeValue(value: string): string {
  return value.replace(ATTRIBUTE_VALUE_DISALLOWED, '_').slice(0, ATTRIBUTE_VALUE_MAX_LENGTH);
}
