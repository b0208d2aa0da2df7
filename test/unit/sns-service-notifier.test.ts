import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SnsServiceNotifier, UnknownServiceTopicError } from '../../lambdas/adapters/sns-service-notifier.js';

const sns = mockClient(SNSClient);
const TOPICS = {
  flood: 'arn:aws:sns:eu-west-2:111122223333:civic-flood',
  waste: 'arn:aws:sns:eu-west-2:111122223333:civic-waste',
};

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('SnsServiceNotifier', () => {
  it("publishes to the service's own topic", async () => {
    const notifier = new SnsServiceNotifier(new SNSClient({ region: 'eu-west-2' }), TOPICS);
    await notifier.notify('flood', 'ALERT: River Kennet: severe flood level', 'Severity: severe');
    expect(sns.commandCalls(PublishCommand).map((call) => call.args[0].input)).toEqual([
      {
        TopicArn: TOPICS.flood,
        Subject: 'ALERT: River Kennet: severe flood level',
        Message: 'Severity: severe',
      },
    ]);
  });

  it('sends a subject SNS accepts: printable ASCII on one line, at most 100 characters', async () => {
    const notifier = new SnsServiceNotifier(new SNSClient({ region: 'eu-west-2' }), TOPICS);
    const long = `ALERT: Afon Tâf at Pont-y-Clun, Ysgol Gymraeg\n${'very long site name '.repeat(8)}`;
    await notifier.notify('flood', long, 'body');
    const subject = sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject ?? '';
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith('ALERT: Afon Taf at Pont-y-Clun, Ysgol Gymraeg very long')).toBe(true);
  });

  it('refuses a service with no topic here, naming the ones wired', async () => {
    const notifier = new SnsServiceNotifier(new SNSClient({ region: 'eu-west-2' }), { waste: TOPICS.waste });
    await expect(notifier.notify('flood', 'ALERT', 'body')).rejects.toThrow(UnknownServiceTopicError);
    await expect(notifier.notify('flood', 'ALERT', 'body')).rejects.toThrow(
      "no SNS topic for service 'flood'; topics are wired for: waste",
    );
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });
});
