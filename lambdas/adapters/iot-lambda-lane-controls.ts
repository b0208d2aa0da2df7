import { DisableTopicRuleCommand, EnableTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import { type LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import type { LaneControlTarget, LaneControlTargets } from '../contracts/metered-resources.js';
import type { Lane } from '../contracts/topics.js';
import type { LaneControls } from '../domain/cost-control.js';

/** The guard was asked to switch a lane it has no switches for (by design: the essential lane). */
export class UncontrolledLaneError extends Error {
  constructor(lane: Lane) {
    super(`lane ${lane} has no controls configured; the cost guard may not switch it`);
    this.name = 'UncontrolledLaneError';
  }
}

/**
 * The lane switches on AWS: the lane's IoT topic rule (DisableTopicRule / EnableTopicRule) and its consumer's SQS
 * event source mapping (UpdateEventSourceMapping Enabled=false/true). Which rule and mapping comes from
 * {@link LaneControlTargets}, built by the CostGuard construct from the deployed resources; a lane without an
 * entry cannot be switched. All four calls are idempotent, so a retried step is harmless.
 */
export class IotLambdaLaneControls implements LaneControls {
  constructor(
    private readonly iot: IoTClient,
    private readonly lambda: LambdaClient,
    private readonly targets: LaneControlTargets,
  ) {}

  async disableRule(lane: Lane): Promise<void> {
    await this.iot.send(new DisableTopicRuleCommand({ ruleName: this.target(lane).ruleName }));
  }

  async enableRule(lane: Lane): Promise<void> {
    await this.iot.send(new EnableTopicRuleCommand({ ruleName: this.target(lane).ruleName }));
  }

  /** What was accepted stays in the queue (14-day retention) until the consumer is resumed. */
  async pauseConsumer(lane: Lane): Promise<void> {
    await this.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: this.target(lane).mappingUuid, Enabled: false }),
    );
  }

  async resumeConsumer(lane: Lane): Promise<void> {
    await this.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: this.target(lane).mappingUuid, Enabled: true }),
    );
  }

  private target(lane: Lane): LaneControlTarget {
    const target = this.targets[lane];
    if (!target) throw new UncontrolledLaneError(lane);
    return target;
  }
}
