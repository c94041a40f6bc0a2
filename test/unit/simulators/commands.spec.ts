import { describe, expect, it } from '@jest/globals';
import { commandFilters, handleCommand, type CommandHost } from '../../../simulators/commands.js';
import type { Desired } from '../../../simulators/contract.js';

const ID = 'org.example.sim:energy-1';

function host(understands: (patch: Desired) => boolean = () => true) {
  const sent: { topic: string; body: Record<string, unknown> }[] = [];
  const applied: Desired[] = [];
  let rebooted = 0;
  const h: CommandHost = {
    thingId: ID,
    apply: (patch) => {
      if (!understands(patch)) return false;
      applied.push(patch);
      return true;
    },
    status: () => ({ seq: 7, uptimeSeconds: 3, desired: {} }),
    reboot: () => rebooted++,
    publish: (topic, payload) => sent.push({ topic, body: JSON.parse(payload) as Record<string, unknown> }),
  };
  return { h, sent, applied, rebooted: () => rebooted };
}

const msg = (body: Record<string, unknown>) => Buffer.from(JSON.stringify({ correlationId: 'c', ...body }));

describe('simulator commands', () => {
  it('subscribes to its own inboxes only', () => {
    expect(commandFilters(ID)).toEqual([`things/${ID}/inbox/#`, `things/${ID}/features/+/inbox/#`]);
  });

  it('applies setSetpoint to the first feature the profile understands and answers on the outbox', () => {
    const { h, sent, applied } = host((p) => 'climate' in p);
    expect(handleCommand(h, `things/${ID}/inbox/setSetpoint`, msg({ payload: 21 }))).toBe(true);
    expect(applied).toEqual([{ climate: { setpoint: 21 } }]);
    expect(sent).toEqual([
      {
        topic: `things/${ID}/outbox/setSetpoint`,
        body: {
          correlationId: 'c',
          status: 200,
          contentType: 'application/json',
          payload: { feature: 'climate', setpoint: 21 },
        },
      },
    ]);
  });

  it('uses the feature of a feature message, and refuses a setpoint nobody understands', () => {
    const { h, sent } = host(() => false);
    handleCommand(h, `things/${ID}/features/hvac/inbox/setSetpoint`, msg({ payload: { value: 20 } }));
    expect(sent[0]).toMatchObject({
      topic: `things/${ID}/features/hvac/outbox/setSetpoint`,
      body: { status: 400 },
    });
  });

  it('reboots after answering, and answers nothing to a fire-and-forget message', () => {
    const { h, sent, rebooted } = host();
    handleCommand(h, `things/${ID}/inbox/reboot`, msg({ responseRequired: false }));
    expect(sent).toEqual([]);
    expect(rebooted()).toBe(1);
  });

  it('answers getStatus and 501 for unknown subjects; other topics are not commands', () => {
    const { h, sent } = host();
    handleCommand(h, `things/${ID}/inbox/getStatus`, msg({}));
    handleCommand(h, `things/${ID}/inbox/dance`, msg({}));
    expect(sent.map((s) => s.body.status)).toEqual([200, 501]);
    expect(sent[0].body.payload).toMatchObject({ thingId: ID, seq: 7 });
    expect(handleCommand(h, `things/${ID}/desired`, msg({}))).toBe(false);
    expect(handleCommand(h, `things/other:x/inbox/reboot`, msg({}))).toBe(false);
  });
});
