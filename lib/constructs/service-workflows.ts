import { EventBus } from 'aws-cdk-lib/aws-events';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { workflowLaneOf, workflowLanesOf } from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { ServiceBlueprint } from '../../services/shared/blueprint.js';
import type { LogLevel, ServiceSettings } from '../config/platform-config.js';
import type { DeviceRegistry } from './device-registry.js';
import type { PlatformAlerts } from './platform-alerts.js';
import type { ServiceRecords } from './service-records.js';
import { constructId, ServiceWorkflowLane } from './service-workflow-lane.js';

/** Props for {@link ServiceWorkflows}. */
export interface ServiceWorkflowsProps {
  /** Names the bus: `civic-iot-<stage>-services`, one per deployment. */
  readonly stage: string;
  /** The enabled blueprints (config `services`); at least one. */
  readonly blueprints: readonly ServiceBlueprint[];
  /** E-mail subscribers per service; a service without an entry gets none. */
  readonly subscribers: Readonly<Record<string, readonly string[]>>;
  /** Settings per service, passed to enrichment and every workflow as `SERVICE_SETTINGS`. */
  readonly settings: Readonly<Record<string, ServiceSettings>>;
  readonly registry: DeviceRegistry;
  readonly records: ServiceRecords;
  readonly alerts: PlatformAlerts;
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  /** Event source mapping maximum concurrency of each workflow lane's function on its queue (SQS allows 2..1000). */
  readonly maxConcurrency: number;
  /** Reserved concurrency per workflow lane function. @default - none */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The service blueprints a deployment runs: one custom EventBridge bus for their domain events, and a
 * {@link ServiceWorkflowLane} per workflow lane an enabled blueprint runs in (essential, ordinary: a lane with no
 * enabled blueprint is not deployed at all), each with one queue and one capped function hosting its blueprints,
 * and a rule and a topic per blueprint. Enrichment publishes to the bus ({@link grantPublish},
 * {@link detectionEnvironment}); nothing else does, and nothing here is ever switched by the cost guard.
 */
export class ServiceWorkflows extends Construct {
  readonly bus: EventBus;
  /** The deployed workflow lanes, essential first. */
  readonly lanes: readonly ServiceWorkflowLane[];
  private readonly settingsJson: string;
  private readonly names: readonly string[];

  constructor(scope: Construct, id: string, props: ServiceWorkflowsProps) {
    super(scope, id);
    if (props.blueprints.length === 0) {
      throw new Error('ServiceWorkflows: no service is enabled; leave the construct out instead');
    }
    this.names = props.blueprints.map((blueprint) => blueprint.name);
    this.settingsJson = JSON.stringify(props.settings);
    this.bus = new EventBus(this, 'Bus', {
      eventBusName: `civic-iot-${props.stage}-services`,
      description:
        'Domain events of the service blueprints: emitted by enrichment only when something changed',
    });
    this.lanes = workflowLanesOf(props.blueprints).map(
      (lane) =>
        new ServiceWorkflowLane(this, `${constructId(lane)}Lane`, {
          lane,
          blueprints: props.blueprints.filter((blueprint) => workflowLaneOf(blueprint) === lane),
          bus: this.bus,
          environment: { [ENV.serviceSettings]: this.settingsJson },
          subscribers: props.subscribers,
          registry: props.registry,
          records: props.records,
          alerts: props.alerts,
          logRetentionDays: props.logRetentionDays,
          logLevel: props.logLevel,
          maxConcurrency: props.maxConcurrency,
          ...(props.reservedConcurrentExecutions === undefined
            ? {}
            : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
        }),
    );
  }

  /** Each enabled service's notice topic, by service name, in catalogue order. */
  get topics(): ReadonlyMap<string, Topic> {
    return new Map(
      this.names.flatMap((name) => {
        const topic = this.lanes.map((lane) => lane.topics.get(name)).find((found) => found !== undefined);
        return topic ? [[name, topic] as const] : [];
      }),
    );
  }

  /** The enabled services' names, comma-separated, as `ENABLED_SERVICES` carries them. */
  get enabledServices(): string {
    return this.names.join(',');
  }

  /** What enrichment needs to run the detectors: the bus, the enabled services and their settings. */
  get detectionEnvironment(): Record<string, string> {
    return {
      [ENV.eventBusName]: this.bus.eventBusName,
      [ENV.enabledServices]: this.enabledServices,
      [ENV.serviceSettings]: this.settingsJson,
    };
  }

  /** `events:PutEvents` on this bus and nothing else. */
  grantPublish(grantee: IGrantable): void {
    this.bus.grantPutEventsTo(grantee);
  }
}
