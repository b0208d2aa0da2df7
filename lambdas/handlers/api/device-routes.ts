import { devicePathSchema } from '../../contracts/api.js';
import {
  deviceChangeSchema,
  deviceListQuerySchema,
  deviceRegistrationSchema,
  parseBoundingBox,
} from '../../contracts/api-devices.js';
import { InvalidRequestError } from '../../domain/city-queries.js';
import {
  asDeviceRegistry,
  listDevices,
  registerDevice,
  revokeAndDecommission,
  updateDevice,
} from '../../domain/device-registry.js';
import { jsonResponse } from '../http/problem-details.js';
import { jsonBody, path, query, type Route } from './route.js';

/** The device registry: list (any staff), register, change and decommission (admins). */
export const deviceRouteHandlers: Record<string, Route> = {
  'GET /devices': async (event, { ports }) => {
    const { type, bbox, ...rest } = deviceListQuerySchema.parse(query(event));
    // The schema has checked the text; this only turns it into numbers.
    const box = bbox === undefined ? undefined : parseBoundingBox(bbox);
    if (typeof box === 'string') throw new InvalidRequestError(box, 'bbox');
    return jsonResponse(
      await listDevices(asDeviceRegistry(ports.devices), {
        ...rest,
        ...(type ? { deviceType: type } : {}),
        ...(box ? { bbox: box } : {}),
      }),
    );
  },
  'POST /devices': async (event, { ports, now, councilArea }) => {
    const registration = deviceRegistrationSchema.parse(jsonBody(event));
    return jsonResponse(
      await registerDevice(asDeviceRegistry(ports.devices), registration, now, { councilArea }),
      201,
    );
  },
  'PATCH /devices/{id}': async (event, { ports, now, councilArea }) => {
    const { id } = devicePathSchema.parse(path(event));
    const change = deviceChangeSchema.parse(jsonBody(event));
    return jsonResponse(
      await updateDevice(asDeviceRegistry(ports.devices), id, change, now, { councilArea }),
    );
  },
  // Certificates first, then the entry: see revokeAndDecommission.
  'DELETE /devices/{id}': async (event, { ports, now, deviceCertificates }) => {
    const { id } = devicePathSchema.parse(path(event));
    return jsonResponse(
      await revokeAndDecommission(asDeviceRegistry(ports.devices), deviceCertificates(), id, now),
    );
  },
};
