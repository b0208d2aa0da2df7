import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ServiceNotifier } from '../../services/shared/workflow-ports.js';
import { snsSubject } from './sns-notifier.js';

/** A notice for a service that has no topic here: a wiring fault, reported with what is wired. */
export class UnknownServiceTopicError extends Error {
  override readonly name = 'UnknownServiceTopicError';
}

/**
 * Service notices (alerts opened, escalated and cleared; urgent jobs) to the service's own SNS topic, so a
 * council subscribes the flood team to flood and the street cleansing team to waste. Subjects go through
 * {@link snsSubject}: SNS takes only printable ASCII up to 100 characters, and site names may carry accents.
 */
export class SnsServiceNotifier implements ServiceNotifier {
  /** @param topics topic ARN by service name; a workflow function holds only its own service's. */
  constructor(
    private readonly client: SNSClient,
    private readonly topics: Readonly<Record<string, string>>,
  ) {}

  async notify(service: string, subject: string, message: string): Promise<void> {
    const topicArn = this.topics[service];
    if (!topicArn) {
      const known = Object.keys(this.topics).join(', ') || 'none';
      throw new UnknownServiceTopicError(
        `no SNS topic for service '${service}'; topics are wired for: ${known}`,
      );
    }
    await this.client.send(
      new PublishCommand({ TopicArn: topicArn, Subject: snsSubject(subject), Message: message }),
    );
  }
}
