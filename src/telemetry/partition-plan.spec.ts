import { describe, expect, it } from '@jest/globals';
import { dayPartition, parsePartitionName, planMaintenance } from './partition-plan.js';

const NOW = Date.parse('2024-05-10T13:00:00Z');

describe('day partitions', () => {
  it('are named after their UTC day and bounded by midnights', () => {
    expect(dayPartition(NOW)).toEqual({
      name: 'telemetry_p20240510',
      from: '2024-05-10T00:00:00Z',
      to: '2024-05-11T00:00:00Z',
    });
    expect(dayPartition(Date.parse('2024-12-31T23:59:59.999Z')).to).toBe('2025-01-01T00:00:00Z');
  });

  it('are recognised by name only when the name is a real day', () => {
    expect(parsePartitionName('telemetry_p20240229')?.from).toBe('2024-02-29T00:00:00Z');
    expect(parsePartitionName('telemetry_p20230229')).toBeUndefined();
    expect(parsePartitionName('telemetry_default')).toBeUndefined();
    expect(parsePartitionName('telemetry_p2024051')).toBeUndefined();
    expect(parsePartitionName('xtelemetry_p20240510')).toBeUndefined();
  });
});

describe('planMaintenance', () => {
  it('creates yesterday to a week ahead when nothing exists', () => {
    const plan = planMaintenance(NOW, ['telemetry_default'], 30);
    expect(plan.create.map((d) => d.name)).toEqual([
      'telemetry_p20240509',
      'telemetry_p20240510',
      'telemetry_p20240511',
      'telemetry_p20240512',
      'telemetry_p20240513',
      'telemetry_p20240514',
      'telemetry_p20240515',
      'telemetry_p20240516',
      'telemetry_p20240517',
    ]);
    expect(plan.drop).toEqual([]);
  });

  it('creates only what is missing', () => {
    const existing = [
      'telemetry_default',
      'telemetry_p20240509',
      'telemetry_p20240510',
      'telemetry_p20240512',
    ];
    const plan = planMaintenance(NOW, existing, 30);
    expect(plan.create.map((d) => d.name)).not.toContain('telemetry_p20240510');
    expect(plan.create.map((d) => d.name)).toContain('telemetry_p20240511');
    expect(plan.create).toHaveLength(6);
  });

  it('drops day partitions lying entirely before now − retention, never others', () => {
    const existing = [
      'telemetry_default',
      'telemetry_p20240101',
      'telemetry_p20240508',
      'telemetry_p20240509',
      'telemetry_p20240510',
      'telemetry_archive',
    ];
    // Cutoff 2024-05-09T13:00Z: the 8th ends at the 9th's midnight, the 9th only at the 10th's.
    expect(planMaintenance(NOW, existing, 1).drop.map((d) => d.name)).toEqual([
      'telemetry_p20240101',
      'telemetry_p20240508',
    ]);
    expect(planMaintenance(NOW, existing, 0).drop).toEqual([]);
    expect(planMaintenance(NOW, existing, 200).drop).toEqual([]);
  });
});
