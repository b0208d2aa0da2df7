import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../domain/cost-control.js';

/** SNS subjects: printable ASCII, at most 100 characters, no line breaks. */
const SUBJECT_MAX_CHARS = 100;

/** E-mail subjects for council names like "Bro Morgannwg" with accents: SNS refuses anything but ASCII. */
export function snsSubject(subject: string): string {
  const ascii = subject
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return (ascii || 'Civic IoT platform notice').slice(0, SUBJECT_MAX_CHARS);
}

/** Guard notices to an SNS topic (e-mail subscribers from the `alertEmails` config). */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(subject: string, message: string): Promise<void> {
    await this.client.send(
      new PublishCommand({ TopicArn: this.topicArn, Subject: snsSubject(subject), Message: message }),
    );
  }
}

/** Where a function has no topic of its own (the city API's restore): the notice goes to the function's log. */
export class LogNotifier implements Notifier {
  constructor(private readonly log: (subject: string, message: string) => void) {}

  async notify(subject: string, message: string): Promise<void> {
    this.log(subject, message);
  }
}
