import type { DeviceType } from '../contracts/device-types.js';
import {
  isSerialNumber,
  NO_ATTRIBUTE_VALUE,
  PROVISIONING_PARAMETERS,
  type ProvisioningParameter,
  SERIAL_NUMBER_PATTERN,
} from '../contracts/provisioning-template.js';
import { thingAttributeValue } from '../contracts/thing-attributes.js';
import { laneFor, telemetryTopic } from '../contracts/topics.js';
import { InvalidRequestError } from './city-queries.js';
import type { BoundingBox, Device, DeviceRegistry } from './device.js';
import {
  deviceFieldsOfRow,
  OPTIONAL_IMPORT_COLUMNS,
  REQUIRED_IMPORT_COLUMNS,
  type RegisteredDevice,
  readAssetCsv,
  sortedByLine,
} from './device-import.js';
import { type DeviceFields, DeviceInputError } from './device-onboarding-commands.js';
import { registerDevice } from './device-registry.js';
import { ConflictError } from './service-queries.js';

/**
 * Fleet provisioning by claim: devices that leave the vendor without a certificate of their own carry a shared
 * claim certificate, and exchange it for their own on first connection. Only serial numbers the council put on
 * the allow-list are admitted, each once, and each as the device the council said it would be. Pure: the
 * allow-list and the registry are ports; the clock is passed in.
 */

export const ALLOW_LIST_STATES = ['waiting', 'provisioned'] as const;
/**
 * `waiting`: on the list, not yet used; `provisioned`: a device has provisioned under it (offered again only while
 * the certificate that claimed it has never been activated: see {@link admitDevice}).
 */
export type AllowListState = (typeof ALLOW_LIST_STATES)[number];

/** A serial number and the device it becomes: the fields the registry needs, as `add` takes them. */
export interface AllowedDevice extends DeviceFields {
  readonly serialNumber: string;
}

/** An allow-list entry as stored. */
export interface AllowListEntry extends AllowedDevice {
  readonly state: AllowListState;
  /** When the entry was last put on the list (a re-load of a waiting entry writes it again). */
  readonly loadedAt: string;
  /**
   * When a device provisioned under this serial (state `provisioned` only): the instant the hook registered it,
   * which is also the registry entry's `registeredAt`. That equality is how a re-admission recognises the
   * registry entry as this serial's own.
   */
  readonly provisionedAt?: string;
  /** The certificate AWS IoT issued to that device (state `provisioned` only). */
  readonly certificateId?: string;
  /**
   * When `certificateId` claimed the serial, if that was a re-admission (see {@link admitDevice}); otherwise the
   * claim was at `provisionedAt`.
   */
  readonly claimedAt?: string;
}

/** What {@link ProvisioningAllowList.put} did with each serial. */
export interface AllowListPutResult {
  /** Serials now waiting on the list: new, or a waiting entry written again with the fields given. */
  readonly waiting: readonly string[];
  /** Serials a device has already provisioned under: left exactly as they were. */
  readonly alreadyProvisioned: readonly string[];
}

/** Who took a serial: the certificate IoT issued and when. */
export interface AllowListClaim {
  readonly certificateId: string;
  readonly provisionedAt: string;
}

/** A provisioned serial taken again by a new certificate (see {@link ProvisioningAllowList.reclaim}). */
export interface AllowListReclaim {
  readonly certificateId: string;
  /** When the new certificate claimed the serial. */
  readonly claimedAt: string;
  /**
   * Given when the device is registered anew with this claim (the registry does not hold it): the registration's
   * instant. @default - unchanged: the registry entry made under the serial before is kept
   */
  readonly provisionedAt?: string;
}

/**
 * Port: the provisioning allow-list. Every write is conditional on the entry's state, so two requests for one
 * serial can never both take it, and loading a list again can never offer a used serial a second time.
 */
export interface ProvisioningAllowList {
  /**
   * Puts entries on the list, `waiting`. Idempotent: an entry already waiting is written again (a corrected ward
   * or location takes effect), one already `provisioned` is never reset and is reported instead.
   */
  put(entries: readonly AllowedDevice[], loadedAt: Date): Promise<AllowListPutResult>;
  /** One entry, read consistently; undefined when the serial is not on the list. */
  get(serialNumber: string): Promise<AllowListEntry | undefined>;
  /**
   * Takes a waiting serial for a device, in one conditional write: `provisioned`, with the claim. Answers the entry
   * as claimed, or undefined when the serial is not waiting (not on the list, or taken, perhaps a moment ago).
   */
  claim(serialNumber: string, claim: AllowListClaim): Promise<AllowListEntry | undefined>;
  /**
   * Gives a serial back (rollback of a claim whose device could not be registered): `waiting` again, only if it is
   * still claimed by that certificate. False when it was not.
   */
  unclaim(serialNumber: string, certificateId: string): Promise<boolean>;
  /**
   * Moves a provisioned serial from the certificate that claimed it, which never became the device's, to a new
   * one, in one conditional write: only while the serial is still claimed by `previousCertificateId`, so of two
   * re-admissions at once exactly one wins. Answers the entry as reclaimed, or undefined when the condition failed.
   */
  reclaim(
    serialNumber: string,
    previousCertificateId: string,
    claim: AllowListReclaim,
  ): Promise<AllowListEntry | undefined>;
}

/**
 * What became of the certificate a serial was claimed with. `never-activated`: IoT never made it a working
 * certificate (RegisterThing failed after the hook admitted it, or the certificate is gone); `active`: the device
 * uses it; `retired`: it was the device's and has since been deactivated, revoked or moved away.
 */
export type ClaimedCertificateState = 'never-activated' | 'active' | 'retired';

/**
 * Port: the certificates serials were claimed with (AWS IoT's certificate status; the local identity register).
 * Asked only for a serial already `provisioned`, to tell a device whose provisioning failed after the hook (it may
 * try again) from one that provisioned (it may not).
 */
export interface ClaimedCertificates {
  /** The state of `certificateId`, claimed for device `deviceId`. Throws when it cannot be found out. */
  stateOf(deviceId: string, certificateId: string): Promise<ClaimedCertificateState>;
}

/**
 * How long after a claim the serial may be claimed again when its certificate is still not active. IoT finishes
 * RegisterThing (thing, certificate activation, policy) within seconds of the hook's answer, so a certificate not
 * active after this long never will be; before then a second device presenting the serial could race the first
 * one's template and end with two working certificates for one device.
 */
export const RECLAIM_AFTER_SECONDS = 30;

/** What the pre-provisioning hook is asked: the device's parameters and the certificate IoT made for it. */
export interface ProvisioningRequest {
  /** The `SerialNumber` parameter the device sent with RegisterThing, as sent (anything, or nothing). */
  readonly serialNumber: unknown;
  /** The certificate IoT created for the device; it becomes the device's own if the device is admitted. */
  readonly certificateId: string;
}

/** The ports {@link admitDevice} uses. */
export interface AdmissionPorts {
  readonly allowList: ProvisioningAllowList;
  readonly registry: DeviceRegistry;
  /** Asked only about a serial already provisioned: whether its certificate ever became the device's. */
  readonly certificates: ClaimedCertificates;
}

/** The platform's settings {@link admitDevice} applies. */
export interface AdmissionSettings {
  /** Device types on the essential lane: decides the telemetry topic the device is told. */
  readonly essentialDeviceTypes: readonly DeviceType[];
  /**
   * The council's area: a device is registered only inside it (the CSV was checked against it when loaded; the
   * area may have changed since). @default - none: any location is accepted
   */
  readonly councilArea?: BoundingBox;
}

/** The hook's answer. Every refusal says why, naming the serial. */
export type Admission =
  | {
      readonly allowed: true;
      readonly serialNumber: string;
      /** The registry entry made for the device. */
      readonly device: Device;
      /** The template parameters the hook sets: the thing's name and attributes, the device's topic. */
      readonly parameterOverrides: Readonly<Record<Exclude<ProvisioningParameter, 'SerialNumber'>, string>>;
      /**
       * Set when the serial was admitted again: the certificate that claimed it before and never became the
       * device's (its RegisterThing failed after the hook). @default - a first admission
       */
      readonly previousCertificateId?: string;
    }
  | { readonly allowed: false; readonly serialNumber?: string; readonly reason: string };

function refused(reason: string, serialNumber?: string): Admission {
  return { allowed: false, ...(serialNumber === undefined ? {} : { serialNumber }), reason };
}

/**
 * Decides a fleet provisioning request (the pre-provisioning hook). Refused: a serial that is missing or
 * malformed, not on the allow-list, already provisioned ("only once each"), or whose device id is already
 * registered. Otherwise the serial is claimed (a conditional write: of two requests at once, one wins) and the
 * device is registered with `registerDevice`, as `add` would, so the registry entry exists before the thing does;
 * if registering fails the claim is given back, so a later attempt can succeed. Admitted devices get the template
 * parameters: the device id as thing name, the type, ward and site as thing attributes (in the characters IoT
 * accepts) and the exact telemetry topic.
 *
 * IoT creates the thing and activates the certificate only after the hook has answered, so RegisterThing can still
 * fail (a throttle, a thing conflict, a role permission) with the serial claimed and the device registered. Such a
 * serial is re-admitted: when the certificate that claimed it was never activated (see
 * {@link ClaimedCertificates}) and the claim is at least {@link RECLAIM_AFTER_SECONDS} old (or the request
 * carries that same certificate), a new certificate takes the serial over in one conditional write, so of two
 * retries exactly one wins. The registry entry made under the serial (same id and type, registered at the claim's
 * `provisionedAt`) is kept, not registered again; an entry with that id made any other way belongs to another
 * device and the request is refused. A serial whose certificate is active, or was retired or revoked since, stays
 * "already provisioned": a serial never brings back a device an administrator took out of service.
 *
 * A failure other than a refusal (the allow-list, registry or certificate status unreachable) is thrown, after
 * giving back any claim this request made: IoT answers the device ACCESS_DENIED either way, and the device may try
 * again.
 */
export async function admitDevice(
  request: ProvisioningRequest,
  ports: AdmissionPorts,
  now: Date,
  settings: AdmissionSettings,
): Promise<Admission> {
  const { serialNumber } = request;
  if (serialNumber === undefined || serialNumber === '') {
    return refused(
      `the request names no serial number: the device must send the ${PROVISIONING_PARAMETERS.serialNumber} parameter`,
    );
  }
  if (!isSerialNumber(serialNumber)) {
    return refused(
      `serial ${JSON.stringify(String(serialNumber).slice(0, 80))} is not a serial number (${SERIAL_NUMBER_PATTERN.source})`,
    );
  }
  const entry = await ports.allowList.get(serialNumber);
  if (!entry) return refused(`serial '${serialNumber}' is not on the provisioning allow-list`, serialNumber);
  if (entry.state === 'provisioned') return readmitDevice(entry, request.certificateId, ports, now, settings);
  if (await ports.registry.get(entry.deviceId)) {
    return refused(
      `serial '${serialNumber}': device '${entry.deviceId}' is already registered; a serial provisions a new ` +
        'device only (give the entry a new id, or onboard the device with add)',
      serialNumber,
    );
  }

  const claimed = await ports.allowList.claim(serialNumber, {
    certificateId: request.certificateId,
    provisionedAt: now.toISOString(),
  });
  if (!claimed) return refusedAfterLostClaim(serialNumber, ports.allowList);
  return registerAndAdmit(claimed, request.certificateId, ports, now, settings);
}

/**
 * A serial already provisioned: admitted again only when its certificate never became the device's (see
 * {@link admitDevice}).
 */
async function readmitDevice(
  entry: AllowListEntry,
  certificateId: string,
  ports: AdmissionPorts,
  now: Date,
  settings: AdmissionSettings,
): Promise<Admission> {
  const { serialNumber, deviceId } = entry;
  const previous = entry.certificateId;
  // An entry without a certificate was not written by a claim: nothing can tell whether a device uses it.
  if (previous === undefined) return refused(alreadyProvisioned(entry), serialNumber);
  const state = await ports.certificates.stateOf(deviceId, previous);
  if (state === 'active') return refused(alreadyProvisioned(entry), serialNumber);
  if (state === 'retired') {
    return refused(
      `${alreadyProvisioned(entry)}; its certificate has since been deactivated or revoked, and a serial never ` +
        `brings a device back (an administrator can give it a new certificate: rotate --id ${deviceId})`,
      serialNumber,
    );
  }

  const claimedAt = Date.parse(entry.claimedAt ?? entry.provisionedAt ?? '');
  const settledAt = claimedAt + RECLAIM_AFTER_SECONDS * 1000;
  // The same certificate asking again cannot race itself; another one waits until the first claim has settled.
  if (previous !== certificateId && !Number.isNaN(claimedAt) && now.getTime() < settledAt) {
    return refused(
      `serial '${serialNumber}' was claimed at ${new Date(claimedAt).toISOString()} by a certificate whose ` +
        `provisioning may still be finishing; try again after ${new Date(settledAt).toISOString()}`,
      serialNumber,
    );
  }

  const registered = await ports.registry.get(deviceId);
  if (registered && !registeredUnderSerial(registered, entry)) {
    return refused(
      `serial '${serialNumber}': device '${deviceId}' is registered, but not under this serial; a serial ` +
        'provisions a new device only (onboard the device with add)',
      serialNumber,
    );
  }
  if (registered?.status === 'decommissioned') {
    return refused(
      `serial '${serialNumber}': device '${deviceId}' was decommissioned; a serial never brings a device back`,
      serialNumber,
    );
  }

  const reclaimed = await ports.allowList.reclaim(serialNumber, previous, {
    certificateId,
    claimedAt: now.toISOString(),
    // Registered anew at this instant when the registry does not hold the device; otherwise its entry is kept.
    ...(registered ? {} : { provisionedAt: now.toISOString() }),
  });
  if (!reclaimed) return refusedAfterLostClaim(serialNumber, ports.allowList);
  if (registered) return admitted(serialNumber, registered, settings, previous);
  return registerAndAdmit(reclaimed, certificateId, ports, now, settings, previous);
}

/** The registry entry is the one the hook made under this serial: same device type, registered at the claim. */
function registeredUnderSerial(device: Device, entry: AllowListEntry): boolean {
  return (
    device.deviceType === entry.deviceType &&
    entry.provisionedAt !== undefined &&
    device.registeredAt === entry.provisionedAt
  );
}

/** A claim's conditional write failed: another request for the same serial won between the read and the write. */
async function refusedAfterLostClaim(
  serialNumber: string,
  allowList: ProvisioningAllowList,
): Promise<Admission> {
  const taken = await allowList.get(serialNumber);
  return refused(
    taken?.state === 'provisioned'
      ? alreadyProvisioned(taken)
      : `serial '${serialNumber}' is no longer on the provisioning allow-list`,
    serialNumber,
  );
}

/**
 * Registers the device of a serial just claimed by `certificateId`, at the claim's instant, and admits it; the
 * claim is given back if the device cannot be registered.
 */
async function registerAndAdmit(
  claimed: AllowListEntry,
  certificateId: string,
  ports: AdmissionPorts,
  now: Date,
  settings: AdmissionSettings,
  previousCertificateId?: string,
): Promise<Admission> {
  const { serialNumber } = claimed;
  let device: Device;
  try {
    device = await registerDevice(
      ports.registry,
      {
        deviceId: claimed.deviceId,
        deviceType: claimed.deviceType,
        location: claimed.location,
        ...(claimed.ward === undefined ? {} : { ward: claimed.ward }),
        ...(claimed.site === undefined ? {} : { site: claimed.site }),
        ...(claimed.expectedIntervalSeconds === undefined
          ? {}
          : { expectedIntervalSeconds: claimed.expectedIntervalSeconds }),
      },
      now,
      settings.councilArea === undefined ? {} : { councilArea: settings.councilArea },
    );
  } catch (error) {
    await ports.allowList.unclaim(serialNumber, certificateId);
    if (error instanceof ConflictError || error instanceof InvalidRequestError) {
      return refused(
        `serial '${serialNumber}': device '${claimed.deviceId}' could not be registered: ${error.message}`,
        serialNumber,
      );
    }
    throw error;
  }
  return admitted(serialNumber, device, settings, previousCertificateId);
}

function admitted(
  serialNumber: string,
  device: Device,
  settings: AdmissionSettings,
  previousCertificateId?: string,
): Admission {
  return {
    allowed: true,
    serialNumber,
    device,
    parameterOverrides: {
      [PROVISIONING_PARAMETERS.deviceId]: device.deviceId,
      [PROVISIONING_PARAMETERS.deviceType]: device.deviceType,
      [PROVISIONING_PARAMETERS.ward]: attributeOrNone(device.ward),
      [PROVISIONING_PARAMETERS.site]: attributeOrNone(device.site),
      [PROVISIONING_PARAMETERS.telemetryTopic]: telemetryTopic(
        laneFor(device.deviceType, settings.essentialDeviceTypes),
        device.deviceType,
        device.deviceId,
      ),
    },
    ...(previousCertificateId === undefined ? {} : { previousCertificateId }),
  };
}

function alreadyProvisioned(entry: AllowListEntry): string {
  return (
    `serial '${entry.serialNumber}' was already provisioned` +
    (entry.provisionedAt ? ` at ${entry.provisionedAt}` : '') +
    ` as device '${entry.deviceId}'; each serial is provisioned once`
  );
}

function attributeOrNone(value: string | undefined): string {
  const sanitised = value === undefined ? '' : thingAttributeValue(value);
  return sanitised === '' ? NO_ATTRIBUTE_VALUE : sanitised;
}

/** The column naming the serial number in an allow-list CSV. */
export const SERIAL_COLUMN = 'serial';
/** The columns an allow-list CSV must have: the serial and an import CSV's required columns. */
export const REQUIRED_ALLOW_LIST_COLUMNS = [SERIAL_COLUMN, ...REQUIRED_IMPORT_COLUMNS] as const;

/** One good row: the entry to put on the list and the CSV line it came from. */
export interface AllowListRow extends AllowedDevice {
  readonly line: number;
}

/** Either every row, good, or every problem found, one sentence each starting with its line. */
export type AllowListReading =
  | { readonly ok: true; readonly rows: readonly AllowListRow[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** What an allow-list CSV is checked against besides its own rows. */
export interface AllowListCsvOptions {
  /**
   * Devices the registry already holds: a row with one of their ids is a problem (a serial provisions a new device
   * only; the hook would refuse it). @default - none known
   */
  readonly registered?: ReadonlyMap<string, RegisteredDevice>;
  /** The council's area: rows outside it are problems. @default - none: any location is accepted */
  readonly councilArea?: BoundingBox;
}

/**
 * Reads and checks an allow-list CSV: the columns of an import CSV (`id,type,lat,lon` and optional
 * `ward,site,interval`) plus `serial`, in any order. The header must have them all and nothing unknown or
 * repeated; each row is checked with `add`'s rules (`readDeviceFields`) and its serial with
 * {@link SERIAL_NUMBER_PATTERN}; a serial or an id given twice is a problem naming both lines, and so is an id
 * already registered. Every problem is reported, not just the first, so one fix-up pass is enough. Pure.
 */
export function readAllowListCsv(csvText: string, options: AllowListCsvOptions = {}): AllowListReading {
  const csv = readAssetCsv(csvText, REQUIRED_ALLOW_LIST_COLUMNS, OPTIONAL_IMPORT_COLUMNS);
  if (!csv.ok) return csv;
  const problems: string[] = [...csv.rowProblems];
  const rows: AllowListRow[] = [];
  const lineOfSerial = new Map<string, number>();
  const lineOfId = new Map<string, number>();
  for (const row of csv.rows) {
    const prefix = `line ${row.line}: `;
    const serialNumber = (row.cell(SERIAL_COLUMN) ?? '').trim();
    if (!isSerialNumber(serialNumber)) {
      problems.push(
        serialNumber === ''
          ? `${prefix}the serial is empty`
          : `${prefix}serial '${serialNumber}' is not a serial number: letters, digits, '.', '_', ':' and '-', ` +
              'starting with a letter or digit, at most 64',
      );
      continue;
    }
    const named = `${prefix}serial '${serialNumber}': `;
    let fields: DeviceFields;
    try {
      fields = deviceFieldsOfRow(row, options.councilArea);
    } catch (error) {
      if (!(error instanceof DeviceInputError)) throw error;
      problems.push(`${named}${error.message}`);
      continue;
    }
    const { deviceId } = fields;
    const serialLine = lineOfSerial.get(serialNumber);
    if (serialLine !== undefined) {
      problems.push(`${named}the serial is also on line ${serialLine}; each serial once`);
      continue;
    }
    lineOfSerial.set(serialNumber, row.line);
    const idLine = lineOfId.get(deviceId);
    if (idLine !== undefined) {
      problems.push(`${named}device '${deviceId}': id is also on line ${idLine}; each device once`);
      continue;
    }
    lineOfId.set(deviceId, row.line);
    const existing = options.registered?.get(deviceId);
    if (existing) {
      problems.push(
        `${named}device '${deviceId}' is already registered (${existing.deviceType}, ${existing.status}); ` +
          'a serial provisions a new device only: use a new id',
      );
      continue;
    }
    // readDeviceFields made these fields afresh, optional ones only when given.
    rows.push({ line: row.line, serialNumber, ...fields });
  }
  return problems.length > 0 ? { ok: false, problems: sortedByLine(problems) } : { ok: true, rows };
}
