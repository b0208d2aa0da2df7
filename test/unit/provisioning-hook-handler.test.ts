import { Logger } from '@aws-lambda-powertools/logger';
import { DescribeCertificateCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbProvisioningAllowList } from '../../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import { MissingSettingError } from '../../lambdas/adapters/ports-from-environment.js';
import { admissionSettingsFromEnvironment } from '../../lambdas/adapters/provisioning-ports-from-environment.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  type AdmissionPorts,
  admitDevice,
  type ClaimedCertificateState,
} from '../../lambdas/domain/provisioning-allow-list.js';
import {
  createProvisioningHookHandler,
  type PreProvisioningHookEvent,
  provisioningHookHandlerFromEnvironment,
} from '../../lambdas/handlers/provisioning-hook.js';
import { startDynamo } from '../support/dynalite.js';
import { NOW } from '../support/messages.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let ports: AdmissionPorts;
/** What IoT says of a certificate; any other was never activated (its RegisterThing failed after the hook). */
const certificateStates = new Map<string, ClaimedCertificateState>();

beforeAll(async () => {
  dynamo = await startDynamo('hook');
  ports = {
    allowList: new DynamoDbProvisioningAllowList(dynamo.client, dynamo.names['provisioning-allow-list']),
    registry: new DynamoDbDeviceDirectory(dynamo.client, dynamo.names.devices),
    certificates: {
      stateOf: async (_deviceId, certificateId) => certificateStates.get(certificateId) ?? 'never-activated',
    },
  };
  await ports.allowList.put(
    ['H-1', 'H-2', 'H-3', 'H-env', 'H-4', 'H-env-2', 'H-env-3', 'H-env-4'].map((serialNumber, n) => ({
      serialNumber,
      deviceId: `rdg-aq-${n + 1}`,
      deviceType: 'air-quality' as const,
      location: { lat: 51.4545, lon: -0.9781 },
      ward: 'Abbey',
    })),
    NOW,
  );
});
afterAll(async () => {
  await dynamo.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.POWERTOOLS_LOGGER_LOG_EVENT;
});

// A PEM-shaped marker, made at run time: the test only needs to find it if it ever reaches a log line.
const PEM_MARKER = `MIIC${'Q'.repeat(12)}${Date.now().toString(36)}`;
const certificatePem = ['-----BEGIN CERTIFICATE-----', PEM_MARKER, '-----END CERTIFICATE-----'].join('\n');
const TEMPLATE_ARN = 'arn:aws:iot:eu-west-2:111122223333:provisioningtemplate/CivicIot-dev-Devices';
const context = { functionName: 'provisioning-hook', awsRequestId: 'req-1' } as Context;

function hookEvent(parameters: Record<string, string> | undefined, certificateId = 'a'.repeat(64)) {
  return {
    claimCertificateId: 'f'.repeat(64),
    certificateId,
    certificatePem,
    templateArn: TEMPLATE_ARN,
    clientId: 'claim-client-7',
    ...(parameters ? { parameters } : {}),
  } satisfies PreProvisioningHookEvent;
}

function setUp(over: Partial<AdmissionPorts> = {}) {
  // Everything the function prints, so the test can show what never reaches the logs.
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  // DEBUG, over the suite's SILENT: whatever the function would print at any level is captured.
  const logger = new Logger({ serviceName: 'provisioning-hook', logLevel: 'DEBUG' });
  const info = vi.spyOn(logger, 'info');
  const warn = vi.spyOn(logger, 'warn');
  const makePorts = vi.fn(() => ({ ...ports, ...over }));
  const handler = createProvisioningHookHandler({
    ports: makePorts,
    settings: () => ({ essentialDeviceTypes: ['air-quality'] }),
    now: () => NOW,
    logger,
  });
  return { handler, info, warn, printed, makePorts };
}

describe('provisioning hook handler', () => {
  it('admits a serial on the allow-list with the parameters the template needs, logging ids only', async () => {
    process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
    const { handler, info, printed } = setUp();
    const response = await handler(hookEvent({ SerialNumber: 'H-1', DeviceId: 'chosen-by-device' }), context);
    vi.mocked(process.stdout.write).mockRestore();

    expect(response).toEqual({
      allowProvisioning: true,
      parameterOverrides: {
        DeviceId: 'rdg-aq-1',
        DeviceType: 'air-quality',
        Ward: 'Abbey',
        Site: 'none',
        TelemetryTopic: '$aws/rules/civic_essential/civic/air-quality/rdg-aq-1/telemetry',
      },
    });
    expect(info).toHaveBeenCalledWith('device admitted', {
      serialNumber: 'H-1',
      deviceId: 'rdg-aq-1',
      deviceType: 'air-quality',
      certificateId: 'a'.repeat(64),
      claimCertificateId: 'f'.repeat(64),
      clientId: 'claim-client-7',
      templateArn: TEMPLATE_ARN,
    });
    // The decision was logged, and nothing printed carries the certificate, even with event logging switched on.
    expect(printed.join('')).toContain('device admitted');
    expect(printed.join('')).not.toContain(PEM_MARKER);
  });

  it('refuses a serial that is not on the allow-list, logging the reason with the serial', async () => {
    const { handler, warn, printed } = setUp();
    expect(await handler(hookEvent({ SerialNumber: 'H-unknown' }), context)).toEqual({
      allowProvisioning: false,
    });
    vi.mocked(process.stdout.write).mockRestore();
    expect(warn).toHaveBeenCalledWith('provisioning refused', {
      serialNumber: 'H-unknown',
      reason: "serial 'H-unknown' is not on the provisioning allow-list",
      certificateId: 'a'.repeat(64),
      claimCertificateId: 'f'.repeat(64),
      clientId: 'claim-client-7',
      templateArn: TEMPLATE_ARN,
    });
    expect(printed.join('')).not.toContain(PEM_MARKER);
  });

  it('refuses the second device presenting a serial already provisioned', async () => {
    const { handler, warn } = setUp();
    expect(await handler(hookEvent({ SerialNumber: 'H-2' }, 'b'.repeat(64)), context)).toMatchObject({
      allowProvisioning: true,
    });
    // The template ran: IoT activated the device's certificate.
    certificateStates.set('b'.repeat(64), 'active');
    expect(await handler(hookEvent({ SerialNumber: 'H-2' }, 'c'.repeat(64)), context)).toEqual({
      allowProvisioning: false,
    });
    expect(warn).toHaveBeenCalledWith(
      'provisioning refused',
      expect.objectContaining({
        serialNumber: 'H-2',
        reason: expect.stringMatching(
          /^serial 'H-2' was already provisioned .*each serial is provisioned once$/,
        ),
        certificateId: 'c'.repeat(64),
      }),
    );
  });

  it('re-admits a serial whose RegisterThing failed after the hook, logging serial, device and certificate ids', async () => {
    // The hook admitted the serial a minute ago with certificate e; IoT then failed, so e was never activated.
    const earlier = new Date(NOW.getTime() - 60_000);
    await admitDevice({ serialNumber: 'H-4', certificateId: 'e'.repeat(64) }, ports, earlier, {
      essentialDeviceTypes: ['air-quality'],
    });
    const { handler, info, printed } = setUp();
    const response = await handler(hookEvent({ SerialNumber: 'H-4' }, '1'.repeat(64)), context);
    vi.mocked(process.stdout.write).mockRestore();

    expect(response).toEqual({
      allowProvisioning: true,
      parameterOverrides: expect.objectContaining({ DeviceId: 'rdg-aq-5' }),
    });
    expect(info).toHaveBeenCalledWith('device re-admitted', {
      serialNumber: 'H-4',
      deviceId: 'rdg-aq-5',
      deviceType: 'air-quality',
      previousCertificateId: 'e'.repeat(64),
      certificateId: '1'.repeat(64),
      claimCertificateId: 'f'.repeat(64),
      clientId: 'claim-client-7',
      templateArn: TEMPLATE_ARN,
    });
    expect(printed.join('')).not.toContain(PEM_MARKER);
    // The registry entry the first run made is kept, not made again.
    expect(await ports.registry.get('rdg-aq-5')).toMatchObject({
      revision: 1,
      registeredAt: earlier.toISOString(),
    });
  });

  it('refuses a request without parameters, saying the serial is missing', async () => {
    const { handler, warn } = setUp();
    expect(await handler(hookEvent(undefined), context)).toEqual({ allowProvisioning: false });
    expect(warn).toHaveBeenCalledWith(
      'provisioning refused',
      expect.objectContaining({ reason: expect.stringMatching(/names no serial number/) }),
    );
  });

  it('refuses a malformed event naming the fields at fault, without reading a table', async () => {
    const { handler, warn, makePorts, printed } = setUp();
    const { certificateId: _dropped, ...withoutCertificate } = hookEvent({ SerialNumber: 'H-3' });
    const malformed = { ...withoutCertificate, parameters: { SerialNumber: 3 } };
    expect(await handler(malformed as unknown as PreProvisioningHookEvent, context)).toEqual({
      allowProvisioning: false,
    });
    vi.mocked(process.stdout.write).mockRestore();
    expect(warn).toHaveBeenCalledWith('provisioning refused', {
      reason: 'malformed pre-provisioning hook event: certificateId, parameters.SerialNumber',
    });
    expect(makePorts).not.toHaveBeenCalled();
    expect(printed.join('')).not.toContain(PEM_MARKER);
  });

  it('throws when the allow-list cannot be read (IoT then refuses the device)', async () => {
    const { handler } = setUp({
      allowList: {
        ...ports.allowList,
        get: async () => {
          throw new Error('table unreachable');
        },
      },
    });
    await expect(handler(hookEvent({ SerialNumber: 'H-3' }), context)).rejects.toThrow('table unreachable');
    vi.mocked(process.stdout.write).mockRestore();
  });
});

describe('provisioning hook from the environment', () => {
  const iot = mockClient(IoTClient);
  afterEach(() => {
    iot.reset();
  });
  const env = () => ({
    [ENV.dynamoEndpoint]: dynamo.endpoint,
    [ENV.tables['provisioning-allow-list']]: dynamo.names['provisioning-allow-list'],
    [ENV.tables.devices]: dynamo.names.devices,
    [ENV.essentialDeviceTypes]: 'water-level,air-quality',
  });

  it('reads its tables and the essential types from the environment', async () => {
    const logger = new Logger({ serviceName: 'provisioning-hook' });
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    const handler = provisioningHookHandlerFromEnvironment(env(), logger);
    expect(await handler(hookEvent({ SerialNumber: 'H-env' }, 'd'.repeat(64)), context)).toMatchObject({
      allowProvisioning: true,
      parameterOverrides: {
        DeviceId: 'rdg-aq-4',
        TelemetryTopic: '$aws/rules/civic_essential/civic/air-quality/rdg-aq-4/telemetry',
      },
    });
  });

  it.each([
    {
      serialNumber: 'H-env-2',
      certificate: 'does not exist',
      iotSays: () =>
        iot
          .on(DescribeCertificateCommand)
          .rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} })),
      admitted: true,
    },
    {
      serialNumber: 'H-env-3',
      certificate: 'is still PENDING_ACTIVATION',
      iotSays: () =>
        iot
          .on(DescribeCertificateCommand)
          .resolves({ certificateDescription: { status: 'PENDING_ACTIVATION' } }),
      admitted: true,
    },
    {
      serialNumber: 'H-env-4',
      certificate: 'is ACTIVE',
      iotSays: () =>
        iot.on(DescribeCertificateCommand).resolves({ certificateDescription: { status: 'ACTIVE' } }),
      admitted: false,
    },
  ])(
    'asks IoT about a provisioned serial: one whose certificate $certificate admitted again: $admitted',
    async ({ serialNumber, iotSays, admitted }) => {
      // The hook admitted the serial a minute ago with certificate 2; then IoT failed, or did not.
      await admitDevice(
        { serialNumber, certificateId: '2'.repeat(64) },
        ports,
        new Date(Date.now() - 60_000),
        {
          essentialDeviceTypes: [],
        },
      );
      iotSays();
      const logger = new Logger({ serviceName: 'provisioning-hook' });
      vi.spyOn(logger, 'info').mockImplementation(() => undefined);
      vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
      const handler = provisioningHookHandlerFromEnvironment(env(), logger);
      const response = await handler(hookEvent({ SerialNumber: serialNumber }, '3'.repeat(64)), context);
      expect(response.allowProvisioning).toBe(admitted);
      expect(iot.commandCalls(DescribeCertificateCommand).map((call) => call.args[0].input)).toEqual([
        { certificateId: '2'.repeat(64) },
      ]);
      expect((await ports.allowList.get(serialNumber))?.certificateId).toBe(
        (admitted ? '3' : '2').repeat(64),
      );
    },
  );

  it.each([
    ['', []],
    [' water-level , ', ['water-level']],
  ])('reads ESSENTIAL_DEVICE_TYPES %j', (value, types) => {
    expect(admissionSettingsFromEnvironment({ [ENV.essentialDeviceTypes]: value })).toEqual({
      essentialDeviceTypes: types,
    });
  });

  it('refuses an unknown essential type instead of dropping it', () => {
    expect(() =>
      admissionSettingsFromEnvironment({ [ENV.essentialDeviceTypes]: 'water-level,flood-gauge' }),
    ).toThrow(MissingSettingError);
    expect(() => admissionSettingsFromEnvironment({ [ENV.essentialDeviceTypes]: 'flood-gauge' })).toThrow(
      /ESSENTIAL_DEVICE_TYPES .*'flood-gauge'/,
    );
  });
});
