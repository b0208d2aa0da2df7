import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import { allowedPublishTopics, devicePolicyRules } from '../lambdas/contracts/iot-policy.js';
import { CLAIM_CLIENT_ID_PREFIX } from '../lambdas/contracts/provisioning-template.js';
import {
  applyRuleSql,
  BASIC_INGEST_PREFIX,
  type IngestEnvelope,
  type Lane,
  parseTelemetryTopic,
} from '../lambdas/contracts/topics.js';
import type { Device } from '../lambdas/domain/device.js';
import { certificateIdOfFingerprint, certificateRoleOf } from './certificate-authority.js';

/** Why the broker refused a connection, publish or subscribe; counted and logged. */
export type RefusalReason =
  | 'tls-handshake'
  | 'no-client-certificate'
  | 'client-id-mismatch'
  | 'unknown-device'
  | 'device-decommissioned'
  | 'registry-unavailable'
  | 'topic-not-allowed'
  | 'device-type-mismatch'
  | 'payload-over-broker-limit'
  | 'enqueue-failed'
  | 'subscribe-not-allowed'
  | IdentityRefusal
  | 'device-quarantined';

/** Why the device identities refuse a certificate: revoked, or deactivated (rotated out, grace over). */
export type IdentityRefusal = 'certificate-revoked' | 'certificate-inactive';

/**
 * The device identities as the broker consults them (local/local-device-identities.ts): which certificates may
 * connect and which devices are quarantined, checked at CONNECT and on every publish, as AWS IoT checks a
 * certificate's status and the policy attached to it.
 */
export interface DeviceIdentityPolicy {
  /** Why this certificate of the device may not connect now, or undefined when it may. */
  connectionRefusal(deviceId: string, certificateId: string): IdentityRefusal | undefined;
  /**
   * The device a certificate was recorded for, or undefined: how a certificate issued while provisioning by claim
   * (whose CN names no device) is known as its device's.
   */
  deviceOfCertificate(certificateId: string): string | undefined;
  /** Whether the device may connect but not publish. */
  quarantined(deviceId: string): boolean;
  /** The broker accepted a connection with this certificate (a rotation's replacement is now in use). */
  connected(deviceId: string, certificateId: string): void;
  /** Called after the identities changed; the broker then ends sessions whose certificate was refused. */
  onChange(listener: () => void): void;
}

/** A request a claim session published to a fleet provisioning request topic. */
export interface ClaimRequest {
  readonly topic: string;
  readonly payload: Buffer;
  readonly clientId: string;
  /** The claim certificate's id (SHA-256 of its DER), as AWS IoT's `claimCertificateId`. */
  readonly claimCertificateId: string;
}

/** The answer to a {@link ClaimRequest}: published to the session that asked, if it subscribed to the topic. */
export interface ClaimAnswer {
  readonly topic: string;
  readonly payload: string;
}

/**
 * Fleet provisioning by claim as the broker consults it (local/local-fleet-provisioning.ts): which topics a claim
 * session may publish to and subscribe to, and the answer to each request.
 */
export interface ClaimProvisioning {
  /** The request topics: the only topics a claim session may publish to. */
  readonly requestTopics: ReadonlySet<string>;
  /** Their `/accepted` and `/rejected` topics: the only topics a claim session may subscribe to. */
  readonly answerTopics: ReadonlySet<string>;
  answer(request: ClaimRequest): Promise<ClaimAnswer>;
}

/** A refusal as reported to {@link DeviceBrokerOptions.onRefusal}. */
export interface Refusal {
  readonly reason: RefusalReason;
  readonly clientId?: string;
  readonly detail: string;
}

/** Options for {@link startDeviceBroker}. */
export interface DeviceBrokerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signs device certificates: the only issuer the broker trusts. */
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly essentialDeviceTypes: readonly DeviceType[];
  /** Registry lookup at connect time. */
  readonly findDevice: (deviceId: string) => Promise<Device | undefined>;
  /**
   * The rule step: called for every authorised publish with the rule's output. The publish is acknowledged
   * (QoS 1 PUBACK) only after the returned promise resolves, so it must resolve only once the message is durable.
   */
  readonly enqueue: (lane: Lane, message: IngestEnvelope) => Promise<void>;
  readonly onRefusal?: (refusal: Refusal) => void;
  /**
   * Whether a lane's topic rule is enabled (the cost guard disables the ordinary lane's at tier stop). @default all
   * enabled. A publish to a disabled rule gets what IoT Core gives it: the policy allows it, the broker
   * acknowledges it (PUBACK) and the rules engine drops it, so the device does not resend it. It is reported to
   * {@link onNotCollected} instead of being enqueued.
   */
  readonly ruleEnabled?: (lane: Lane) => boolean;
  readonly onNotCollected?: (lane: Lane, clientId: string) => void;
  /** Certificate status and quarantine. @default none: every certificate from the CA, nobody quarantined */
  readonly identities?: DeviceIdentityPolicy;
  /**
   * Fleet provisioning by claim: what a claim certificate (CN `claim.<name>`) may do and the answers it gets.
   * @default none: claim certificates are refused
   */
  readonly provisioning?: ClaimProvisioning;
}

/** A running broker. */
export interface DeviceBroker {
  readonly port: number;
  /** `mqtts://127.0.0.1:<port>`. */
  readonly url: string;
  readonly connectedClients: () => number;
  /** Device connection time summed over every device since the broker started (IoT connectivity is billed on it). */
  readonly connectionSeconds: () => number;
  /** Stops accepting connections, disconnects every device and waits for publishes being enqueued. */
  close(): Promise<void>;
}

/**
 * IoT Core refuses messages over 128 KB; the same bound here keeps a hostile client from filling the queue
 * journal. Anything between the envelope limit (8 KB) and this still reaches the quarantine as PAYLOAD_TOO_LARGE.
 */
const BROKER_MAX_PAYLOAD_BYTES = 128 * 1024;

/** A device's connection: it may publish its telemetry and nothing else. */
interface DeviceSession {
  readonly kind: 'device';
  readonly device: Device;
  readonly allowedTopics: ReadonlySet<string>;
  /** SHA-256 of the client certificate, as AWS IoT's certificate id. */
  readonly certificateId: string;
}

/** A connection with a claim certificate: it may provision and nothing else (the claim policy). */
interface ClaimSession {
  readonly kind: 'claim';
  readonly certificateId: string;
  /** The answer topics it has subscribed to: answers go only there, as IoT delivers only to subscribers. */
  readonly subscribed: Set<string>;
}

type Session = DeviceSession | ClaimSession;

function refusalError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The local stand-in for AWS IoT Core's device gateway: MQTT over mutual TLS only, with the IoT policy enforced
 * as IoT Core would. A device connects with a certificate from the local CA; its client id must equal the
 * certificate's device id (its CN, or for a certificate issued while provisioning by claim, the device the
 * identity register records it for); it must be registered and in service; it may publish only to the Basic
 * Ingest topics of {@link devicePolicyRules} for its own id, and only its registered type's topic; it may not
 * subscribe. Authorised publishes go through the lane's rule ({@link applyRuleSql}) into the lane's queue before
 * they are acknowledged.
 *
 * A claim certificate (CN `claim.<name>`) gets the claim policy instead: a client id starting `claim.`, publishes
 * only to the fleet provisioning request topics, subscriptions only to their answers ({@link ClaimProvisioning}).
 */
export async function startDeviceBroker(options: DeviceBrokerOptions): Promise<DeviceBroker> {
  const rules = devicePolicyRules(options.essentialDeviceTypes);
  const sessions = new WeakMap<Client, Session>();
  /** Connected device clients, so an identity change can end the sessions it refuses. */
  const live = new Set<Client>();
  const identities = options.identities;
  const enqueuing = new Set<Promise<void>>();
  /** Provisioning requests being answered. */
  const answering = new Set<Promise<void>>();
  let draining = false;
  const refuse = (refusal: Refusal) => options.onRefusal?.(refusal);

  const broker = await Aedes.createBroker({
    // Device ids are up to 64 characters (DEVICE_ID_PATTERN); aedes' default of 23 is MQTT 3.1's minimum.
    maxClientsIdLength: 128,
    authenticate: (client, _username, _password, done) => {
      const socket = client.conn as tls.TLSSocket;
      const certificate =
        typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      const commonName = certificate?.subject?.CN;
      if (!commonName || typeof commonName !== 'string') {
        refuse({
          reason: 'no-client-certificate',
          clientId: client.id,
          detail: 'no device id in the certificate',
        });
        return done(refusalError('certificate has no device id', 5), false);
      }
      const certificateId = certificateIdOfFingerprint(certificate.fingerprint256 ?? '');
      const role = certificateRoleOf(commonName);
      if (role.kind === 'claim') {
        const refusal = claimConnectionRefusal(client.id, commonName);
        if (refusal) {
          refuse(refusal);
          return done(refusalError(refusal.detail, refusal.reason === 'client-id-mismatch' ? 2 : 5), false);
        }
        sessions.set(client, { kind: 'claim', certificateId, subscribed: new Set() });
        return done(null, true);
      }
      const deviceId =
        role.kind === 'device' ? role.deviceId : identities?.deviceOfCertificate(certificateId);
      if (deviceId === undefined) {
        refuse({
          reason: 'certificate-inactive',
          clientId: client.id,
          detail:
            `certificate ${certificateId.slice(0, 12)} was issued for provisioning and no device has registered ` +
            'with it (RegisterThing)',
        });
        return done(refusalError('certificate is inactive', 5), false);
      }
      if (client.id !== deviceId) {
        refuse({
          reason: 'client-id-mismatch',
          clientId: client.id,
          detail: `client id '${client.id}' but certificate of '${deviceId}'`,
        });
        return done(refusalError('client id must equal the certificate device id', 2), false);
      }
      options.findDevice(deviceId).then(
        (device) => {
          if (!device) {
            refuse({
              reason: 'unknown-device',
              clientId: deviceId,
              detail: `'${deviceId}' is not registered`,
            });
            return done(refusalError('device is not registered', 5), false);
          }
          if (device.status === 'decommissioned') {
            refuse({
              reason: 'device-decommissioned',
              clientId: deviceId,
              detail: `'${deviceId}' is decommissioned`,
            });
            return done(refusalError('device is decommissioned', 5), false);
          }
          const identityRefusal = identities?.connectionRefusal(deviceId, certificateId);
          if (identityRefusal) {
            refuse({
              reason: identityRefusal,
              clientId: deviceId,
              detail: `'${deviceId}' certificate ${certificateId.slice(0, 12)} is ${identityRefusal.slice('certificate-'.length)}`,
            });
            return done(
              refusalError(`certificate is ${identityRefusal.slice('certificate-'.length)}`, 5),
              false,
            );
          }
          sessions.set(client, {
            kind: 'device',
            device,
            allowedTopics: new Set(allowedPublishTopics(rules, deviceId)),
            certificateId,
          });
          live.add(client);
          identities?.connected(deviceId, certificateId);
          done(null, true);
        },
        (error: Error) => {
          refuse({ reason: 'registry-unavailable', clientId: deviceId, detail: error.message });
          done(refusalError('registry unavailable', 3), false);
        },
      );
    },
    authorizePublish: (client, packet, callback) => {
      // aedes' own internal publishes have no client; devices always do.
      if (!client) return callback(null);
      // While shutting down, new publishes get no PUBACK (the device keeps and resends them) and the connection
      // closes; publishes already being enqueued finish and are acknowledged.
      if (draining) return callback(new Error('broker is shutting down'));
      const found = sessions.get(client);
      const topic = packet.topic;
      if (found?.kind === 'claim') return authorizeClaimPublish(client, found, packet, callback);
      const session = found;
      if (session && identities) {
        // Checked on every publish as well: a revocation or quarantine applies to a session already open.
        const identityRefusal = identities.connectionRefusal(client.id, session.certificateId);
        if (identityRefusal) {
          refuse({ reason: identityRefusal, clientId: client.id, detail: `publish to '${topic}'` });
          return callback(new Error(`certificate is ${identityRefusal.slice('certificate-'.length)}`));
        }
        if (identities.quarantined(client.id)) {
          // As IoT Core with the device's policy detached: the publish is refused and the connection closed.
          refuse({ reason: 'device-quarantined', clientId: client.id, detail: `publish to '${topic}'` });
          return callback(new Error('device is quarantined'));
        }
      }
      if (!session?.allowedTopics.has(topic)) {
        refuse({ reason: 'topic-not-allowed', clientId: client.id, detail: `publish to '${topic}'` });
        return callback(new Error('topic not allowed by the device policy'));
      }
      const parsed = parseTelemetryTopic(topic);
      if (!parsed || parsed.deviceType !== session.device.deviceType) {
        refuse({
          reason: 'device-type-mismatch',
          clientId: client.id,
          detail: `'${client.id}' is a ${session.device.deviceType} but published to '${topic}'`,
        });
        return callback(new Error("topic is not the device's registered type"));
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      if (payload.length > BROKER_MAX_PAYLOAD_BYTES) {
        refuse({
          reason: 'payload-over-broker-limit',
          clientId: client.id,
          detail: `${payload.length} bytes`,
        });
        return callback(new Error('payload too large'));
      }
      if (options.ruleEnabled && !options.ruleEnabled(parsed.lane)) {
        options.onNotCollected?.(parsed.lane, client.id);
        return callback(null);
      }
      // The rule sees the topic without the Basic Ingest prefix and lane, as `topic(n)` does on AWS.
      const afterPrefix = topic.slice(BASIC_INGEST_PREFIX.length + parsed.lane.length + 1);
      const work = options
        .enqueue(parsed.lane, applyRuleSql(payload, afterPrefix, client.id, Date.now()))
        .then(
          () => callback(null),
          (error: Error) => {
            // No PUBACK and a disconnect: the device keeps the message and sends it again.
            refuse({ reason: 'enqueue-failed', clientId: client.id, detail: error.message });
            callback(error);
          },
        )
        .finally(() => enqueuing.delete(work));
      enqueuing.add(work);
    },
    authorizeSubscribe: (client, subscription, callback) => {
      const claim = sessions.get(client)?.kind === 'claim';
      if (claim && options.provisioning?.answerTopics.has(subscription.topic)) {
        return callback(null, subscription);
      }
      refuse({
        reason: 'subscribe-not-allowed',
        clientId: client.id,
        detail: claim
          ? `subscribe to '${subscription.topic}': a claim certificate may subscribe only to the fleet ` +
            'provisioning answers (/accepted, /rejected)'
          : `subscribe to '${subscription.topic}'`,
      });
      callback(new Error(claim ? 'topic not allowed by the claim policy' : 'devices may not subscribe'));
    },
    // Only provisioning answers reach a client, and only a claim session's: devices may not subscribe, nobody may
    // publish to an answer topic, and this also keeps retained messages out.
    authorizeForward: (client, packet) =>
      sessions.get(client)?.kind === 'claim' && options.provisioning?.answerTopics.has(packet.topic)
        ? packet
        : null,
  });

  /** Why a claim certificate may not connect with this client id, or undefined when it may. */
  function claimConnectionRefusal(clientId: string, commonName: string): Refusal | undefined {
    if (!options.provisioning) {
      return {
        reason: 'certificate-inactive',
        clientId,
        detail: `claim certificate '${commonName}': fleet provisioning is not enabled on this broker`,
      };
    }
    if (!clientId.startsWith(CLAIM_CLIENT_ID_PREFIX)) {
      return {
        reason: 'client-id-mismatch',
        clientId,
        detail:
          `client id '${clientId}' with claim certificate '${commonName}': a claim session's client id must ` +
          `start with '${CLAIM_CLIENT_ID_PREFIX}'`,
      };
    }
    return undefined;
  }

  /**
   * A claim session's publish: a fleet provisioning request only. It is acknowledged at once and answered
   * afterwards on its `/accepted` or `/rejected` topic, to this session alone (the answer may carry a private key).
   */
  function authorizeClaimPublish(
    client: Client,
    session: ClaimSession,
    packet: { readonly topic: string; readonly payload: string | Buffer; readonly qos: number },
    callback: (error?: Error | null) => void,
  ): void {
    const provisioning = options.provisioning;
    const { topic } = packet;
    if (!provisioning?.requestTopics.has(topic)) {
      refuse({
        reason: 'topic-not-allowed',
        clientId: client.id,
        detail: `publish to '${topic}': a claim certificate may publish only fleet provisioning requests`,
      });
      callback(new Error('topic not allowed by the claim policy'));
      return;
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > BROKER_MAX_PAYLOAD_BYTES) {
      refuse({ reason: 'payload-over-broker-limit', clientId: client.id, detail: `${payload.length} bytes` });
      callback(new Error('payload too large'));
      return;
    }
    callback(null);
    const work = provisioning
      .answer({ topic, payload, clientId: client.id, claimCertificateId: session.certificateId })
      .then(
        (answer) =>
          new Promise<void>((resolve) => {
            // As IoT: an answer reaches a session subscribed to its topic, or nobody.
            if (client.closed || !session.subscribed.has(answer.topic)) return resolve();
            client.publish(
              {
                cmd: 'publish',
                topic: answer.topic,
                payload: Buffer.from(answer.payload),
                qos: packet.qos === 0 ? 0 : 1,
                retain: false,
                dup: false,
              },
              () => resolve(),
            );
          }),
      )
      .catch((error: Error) => {
        refuse({
          reason: 'enqueue-failed',
          clientId: client.id,
          detail: `answering '${topic}': ${error.message}`,
        });
      })
      .finally(() => answering.delete(work));
    answering.add(work);
  }

  broker.on('subscribe', (subscriptions, client) => {
    const session = client ? sessions.get(client) : undefined;
    if (session?.kind !== 'claim') return;
    for (const { topic } of subscriptions) session.subscribed.add(topic);
  });
  broker.on('unsubscribe', (topics, client) => {
    const session = client ? sessions.get(client) : undefined;
    if (session?.kind !== 'claim') return;
    for (const topic of topics) session.subscribed.delete(topic);
  });

  // Connection time: the number connected, integrated over time at every change.
  let connected = 0;
  let connectedMs = 0;
  let since = Date.now();
  const settle = () => {
    const now = Date.now();
    connectedMs += connected * (now - since);
    since = now;
  };
  broker.on('client', () => {
    settle();
    connected += 1;
  });
  broker.on('clientDisconnect', (client) => {
    live.delete(client);
    settle();
    connected = Math.max(0, connected - 1);
  });

  identities?.onChange(() => {
    for (const client of live) {
      const session = sessions.get(client);
      if (session?.kind === 'device' && identities.connectionRefusal(client.id, session.certificateId)) {
        live.delete(client);
        client.close();
      }
    }
  });

  const server = tls.createServer(
    {
      key: options.serverKeyPem,
      cert: options.serverCertPem,
      ca: options.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (socket) => broker.handle(socket),
  );
  server.on('tlsClientError', (error: Error) => {
    refuse({ reason: 'tls-handshake', detail: error.message });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `mqtts://${options.host}:${port}`,
    connectedClients: () => broker.connectedClients,
    connectionSeconds: () => {
      settle();
      return connectedMs / 1000;
    },
    close: async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      while (enqueuing.size > 0 || answering.size > 0) {
        await Promise.allSettled([...enqueuing, ...answering]);
      }
      // Give the PUBACKs of the last enqueued messages a moment to reach the socket before it is closed.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
