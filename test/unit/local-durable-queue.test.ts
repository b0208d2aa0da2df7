import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DurableQueue } from '../../local/durable-queue.js';
import { QueueConsumer, type SqsBatchHandler } from '../../local/queue-consumer.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'civic-queue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (name = 'lane', extra: Partial<Parameters<typeof DurableQueue.open>[0]> = {}) =>
  DurableQueue.open({ name, directory: dir, visibilityTimeoutMs: 50, ...extra });

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** Makes the queue's next journal write that contains `marker` fail, as a failing disk would. */
const failNextWrite = (queue: DurableQueue, marker: string) => {
  const handle = (queue as unknown as { handle: FileHandle }).handle;
  const write = handle.write.bind(handle) as (data: string) => Promise<unknown>;
  const spy = vi.spyOn(handle, 'write');
  spy.mockImplementation((async (data: string) => {
    if (!data.includes(marker)) return write(data);
    spy.mockRestore();
    throw new Error('EIO: i/o error, write');
  }) as never);
};

describe('DurableQueue', () => {
  it('keeps sent messages across a reopen, and forgets deleted ones', async () => {
    const queue = await open();
    const ids = await Promise.all(['a', 'b', 'c'].map((body) => queue.send(body)));
    await queue.delete([ids[1] as string]);
    await queue.close();

    const reopened = await open();
    expect((await reopened.receive(10)).map((m) => m.body)).toEqual(['a', 'c']);
    await reopened.close();
  });

  it('resolves send only after the message is in the journal file', async () => {
    const queue = await open();
    await queue.send('durable-body');
    // Read with a separate file handle: what another process would see after a crash right now.
    expect(await readFile(path.join(dir, 'lane.journal'), 'utf8')).toContain('durable-body');
    await queue.close();
  });

  it('returns in-flight messages on reopen (a crash before delete means redelivery, not loss)', async () => {
    const queue = await open();
    await queue.send('in-flight');
    expect(await queue.receive(1)).toHaveLength(1);
    await queue.close();
    const reopened = await open();
    expect((await reopened.receive(1)).map((m) => m.body)).toEqual(['in-flight']);
    await reopened.close();
  });

  it('hides a released message until its visibility timeout is over, then redelivers with a higher count', async () => {
    // Long enough that the receive's fsync on a slow disk cannot use it up before the check below.
    const queue = await open('lane', { visibilityTimeoutMs: 1000 });
    await queue.send('retry-me');
    const [first] = await queue.receive(1);
    await queue.release([first?.messageId as string]);
    expect(await queue.receive(1)).toHaveLength(0);
    await until(() => queue.visibleCount === 1);
    const [second] = await queue.receive(1);
    expect(second?.messageId).toBe(first?.messageId);
    expect(second?.receiveCount).toBe(2);
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    await queue.close();
  });

  it('moves a message to the dead-letter queue after maxReceiveCount failed receives, durably', async () => {
    const dlq = await open('lane-dlq');
    const queue = await open('lane', { visibilityTimeoutMs: 1, maxReceiveCount: 3, deadLetterQueue: dlq });
    const id = await queue.send('poison');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await until(() => queue.visibleCount === 1);
      const [message] = await queue.receive(1);
      expect(message?.receiveCount).toBe(attempt);
      await queue.release([id]);
    }
    expect(queue.size).toBe(0);
    expect(dlq.peek()).toEqual([expect.objectContaining({ messageId: id, body: 'poison', receiveCount: 3 })]);
    await queue.close();
    await dlq.close();
    const reopenedDlq = await open('lane-dlq');
    expect(reopenedDlq.size).toBe(1);
    await reopenedDlq.close();
  });

  it('keeps receive counts across a reopen, so a restart does not give poison messages fresh retries', async () => {
    const queue = await open();
    const id = await queue.send('x');
    await queue.receive(1);
    await queue.release([id]);
    await queue.close();
    const reopened = await open();
    expect((await reopened.receive(1))[0]?.receiveCount).toBe(2);
    await reopened.close();
  });

  it('journals each receive, so a message that kills the process reaches the DLQ after maxReceiveCount receives', async () => {
    const openBoth = async () => {
      const dlq = await open('lane-dlq');
      return { dlq, queue: await open('lane', { maxReceiveCount: 2, deadLetterQueue: dlq }) };
    };
    let { dlq, queue } = await openBoth();
    const id = await queue.send('poison');
    const crashed: DurableQueue[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [message] = await queue.receive(1);
      expect(message?.receiveCount).toBe(attempt);
      // Processing kills the process: no release, no close; the next process opens the same journals.
      crashed.push(queue, dlq);
      ({ dlq, queue } = await openBoth());
    }
    // Received twice already: not handed out a third time but moved to the dead-letter queue.
    expect(await queue.receive(1)).toEqual([]);
    await until(() => dlq.size === 1 && queue.size === 0);
    expect(dlq.peek()).toEqual([expect.objectContaining({ messageId: id, body: 'poison', receiveCount: 2 })]);
    await queue.close();
    await dlq.close();
    const reopened = await openBoth();
    expect([reopened.queue.size, reopened.dlq.size]).toEqual([0, 1]);
    await reopened.queue.close();
    await reopened.dlq.close();
    for (const old of crashed) await old.close();
  });

  it('keeps a message whose move to the dead-letter queue failed, and moves it on a later receive', async () => {
    const dlq = await open('lane-dlq');
    const queue = await open('lane', { visibilityTimeoutMs: 20, maxReceiveCount: 1, deadLetterQueue: dlq });
    const id = await queue.send('poison');
    vi.spyOn(dlq, 'send').mockRejectedValueOnce(new Error('ENOSPC: no space left on device'));
    await queue.receive(1);
    await expect(queue.release([id])).rejects.toThrow('ENOSPC');
    expect(queue.size).toBe(1);
    // Visible again after the visibility timeout; the receive retries the move instead of handing it out.
    const deadline = Date.now() + 5000;
    while (dlq.size === 0 && Date.now() < deadline) {
      expect(await queue.receive(10)).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => queue.size === 0);
    expect(dlq.peek()).toEqual([expect.objectContaining({ messageId: id, body: 'poison', receiveCount: 1 })]);
    await queue.close();
    await dlq.close();
    const reopened = await open('lane');
    expect(reopened.size).toBe(0);
    await reopened.close();
  });

  it('hands back received messages whose delete failed after their visibility timeout', async () => {
    const queue = await open('lane', { visibilityTimeoutMs: 100 });
    const id = await queue.send('x');
    await queue.receive(1);
    failNextWrite(queue, '"d"');
    await expect(queue.delete([id])).rejects.toThrow('EIO');
    expect(queue.size).toBe(1);
    await until(() => queue.visibleCount === 1);
    expect((await queue.receive(1))[0]).toMatchObject({ messageId: id, receiveCount: 2 });
    await queue.close();
  });

  it('compacts its journal once dead records dominate, without losing live messages', async () => {
    const queue = await open('lane', { compactAfterDeadRecords: 100 });
    for (let round = 0; round < 5; round++) {
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => queue.send(`r${round}-${i}`)));
      await queue.delete(ids);
    }
    await queue.send('survivor');
    await queue.close();
    const journal = await readFile(path.join(dir, 'lane.journal'), 'utf8');
    expect(journal.trim().split('\n').length).toBeLessThan(60);
    const reopened = await open();
    expect((await reopened.receive(10)).map((m) => m.body)).toEqual(['survivor']);
    await reopened.close();
  });
});

describe('QueueConsumer', () => {
  const consume = (
    queue: DurableQueue,
    handler: SqsBatchHandler,
    batchSize = 10,
    log?: (line: string) => void,
  ) =>
    new QueueConsumer({
      ...(log ? { log } : {}),
      queue,
      handler,
      functionName: 'enrich-test',
      region: 'eu-west-2',
      accountId: '000000000000',
      batchSize,
      batchingWindowMs: 20,
      maxConcurrency: 2,
      timeoutMs: 2000,
    });

  it('builds SQS events with the lane in the source ARN and deletes what the handler accepted', async () => {
    const queue = await open('civic_ingest');
    const events: SQSEvent[] = [];
    const consumer = consume(queue, async (event) => {
      events.push(event);
      return { batchItemFailures: [] };
    });
    consumer.start();
    await Promise.all(Array.from({ length: 25 }, (_, i) => queue.send(`m${i}`)));
    await until(() => queue.size === 0);
    await consumer.stop();
    const records = events.flatMap((e) => e.Records);
    expect(records).toHaveLength(25);
    expect(Math.max(...events.map((e) => e.Records.length))).toBeLessThanOrEqual(10);
    expect(records[0]).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-2:000000000000:civic_ingest',
      attributes: { ApproximateReceiveCount: '1' },
    });
    await queue.close();
  });

  it('redelivers only the messages named in batchItemFailures, then dead-letters them', async () => {
    const dlq = await open('civic_ingest-dlq');
    const queue = await open('civic_ingest', {
      visibilityTimeoutMs: 5,
      maxReceiveCount: 3,
      deadLetterQueue: dlq,
    });
    const seen = new Map<string, number>();
    const consumer = consume(queue, async (event) => {
      for (const r of event.Records) seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
      return {
        batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });
    consumer.start();
    await Promise.all(['ok1', 'bad', 'ok2'].map((b) => queue.send(b)));
    await until(() => dlq.size === 1 && queue.size === 0);
    await consumer.stop();
    expect(seen.get('ok1')).toBe(1);
    expect(seen.get('ok2')).toBe(1);
    expect(seen.get('bad')).toBe(3);
    expect(dlq.peek()[0]?.body).toBe('bad');
    await queue.close();
    await dlq.close();
  });

  it('retries the whole batch when the handler throws', async () => {
    const queue = await open('civic_ingest', { visibilityTimeoutMs: 5 });
    let calls = 0;
    const consumer = consume(queue, async (event) => {
      calls += 1;
      if (calls === 1) throw new Error('registry down');
      expect(event.Records.every((r) => r.attributes.ApproximateReceiveCount === '2')).toBe(true);
      return { batchItemFailures: [] };
    });
    consumer.start();
    await Promise.all(['a', 'b'].map((b) => queue.send(b)));
    await until(() => queue.size === 0);
    await consumer.stop();
    expect(calls).toBe(2);
    await queue.close();
  });

  it('logs a failed delete with the lane and message ids, and processes the messages again when they come back', async () => {
    const queue = await open('civic_ingest', { visibilityTimeoutMs: 100 });
    const lines: string[] = [];
    const bodies: string[] = [];
    const consumer = consume(
      queue,
      async (event) => {
        bodies.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
      10,
      (line) => lines.push(line),
    );
    const id = await queue.send('m1');
    failNextWrite(queue, '"d"');
    consumer.start();
    await until(() => queue.size === 0);
    await consumer.stop();
    expect(bodies).toEqual(['m1', 'm1']);
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^queue civic_ingest: delete failed.*${id}.*EIO`)),
    ]);
    await queue.close();
  });

  it('logs a failed release (a dead-letter queue that fails) and dead-letters the message on a later receive', async () => {
    const dlq = await open('civic_ingest-dlq');
    const queue = await open('civic_ingest', {
      visibilityTimeoutMs: 20,
      maxReceiveCount: 1,
      deadLetterQueue: dlq,
    });
    vi.spyOn(dlq, 'send').mockRejectedValueOnce(new Error('ENOSPC: no space left on device'));
    const lines: string[] = [];
    let calls = 0;
    const consumer = consume(
      queue,
      async (event) => {
        calls += 1;
        return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
      },
      10,
      (line) => lines.push(line),
    );
    const id = await queue.send('bad');
    consumer.start();
    await until(() => dlq.size === 1 && queue.size === 0);
    await consumer.stop();
    expect(calls).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^queue civic_ingest: release failed.*${id}.*ENOSPC`)),
    ]);
    await queue.close();
    await dlq.close();
  });
});
