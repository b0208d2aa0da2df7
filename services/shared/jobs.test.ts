import { describe, expect, it } from 'vitest';
import {
  closeJobByRule,
  InvalidJobTransitionError,
  type Job,
  type JobStatus,
  openJob,
  transitionJob,
} from './jobs.js';
import { at } from './telemetry-fixtures.js';

const open = openJob({
  service: 'waste',
  kind: 'collection',
  deviceId: 'bin-1',
  priority: 'routine',
  reason: 'full',
  openedAt: at(0),
  note: 'fillingLevel 0.85',
});
const scheduled = transitionJob(open, 'scheduled', 'Tuesday round', at(60));
const done = transitionJob(scheduled, 'done', 'collected', at(120));
const jobs: Record<JobStatus, Job> = { open, scheduled, done };

describe('job transitions', () => {
  it.each<[JobStatus, JobStatus]>([
    ['open', 'scheduled'],
    ['scheduled', 'done'],
  ])('%s -> %s is allowed and recorded with its note', (from, to) => {
    const moved = transitionJob(jobs[from], to, 'a note', at(500));
    expect(moved.status).toBe(to);
    expect(moved.updatedAt).toBe(at(500));
    expect(moved.history.at(-1)).toEqual({ at: at(500), status: to, note: 'a note' });
  });

  it.each<[JobStatus, JobStatus, RegExp]>([
    ['open', 'done', /is open; it can only move to scheduled \(asked: done\)/],
    ['open', 'open', /is open; it can only move to scheduled \(asked: open\)/],
    ['scheduled', 'open', /is scheduled; it can only move to done \(asked: open\)/],
    ['scheduled', 'scheduled', /is scheduled; it can only move to done/],
    ['done', 'open', /is done; it cannot move any further \(asked: open\)/],
    ['done', 'scheduled', /is done; it cannot move any further/],
    ['done', 'done', /is done; it cannot move any further/],
  ])('%s -> %s is refused', (from, to, message) => {
    expect(() => transitionJob(jobs[from], to, 'a note', at(500))).toThrow(InvalidJobTransitionError);
    expect(() => transitionJob(jobs[from], to, 'a note', at(500))).toThrow(message);
  });

  it('refuses a move without a note', () => {
    expect(() => transitionJob(open, 'scheduled', '  ', at(1))).toThrow(/needs a note/);
  });

  it('marks a crew-completed job as completed, keeping its whole history', () => {
    expect(done.closedAs).toBe('completed');
    expect(done.history.map((h) => h.status)).toEqual(['open', 'scheduled', 'done']);
  });

  it.each<[JobStatus]>([['open'], ['scheduled']])('a rule may close a %s job', (from) => {
    const closed = closeJobByRule(jobs[from], 'emptied', 'fillingLevel 0.1', at(900));
    expect(closed).toMatchObject({ status: 'done', closedAs: 'emptied', updatedAt: at(900) });
  });

  it('closing a done job again changes nothing (a replayed reading)', () => {
    expect(closeJobByRule(done, 'emptied', 'again', at(900))).toBe(done);
  });

  it('derives the id from service, device, kind and opening observation', () => {
    const again = openJob({ ...open, note: 'other note' });
    expect(again.id).toBe(open.id);
    expect(openJob({ ...open, openedAt: at(1), note: '' }).id).not.toBe(open.id);
  });
});
