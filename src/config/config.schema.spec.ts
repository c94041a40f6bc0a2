import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.schema.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.DEFAULT_NAMESPACE).toBe('org.eclipse.ditto');
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['LOG_LEVEL', 'loud'],
    ['DEFAULT_NAMESPACE', '1bad'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}:`));
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
  });
});

describe('loadConfig for devices and realtime', () => {
  it('reads true/false flags as words', () => {
    expect(loadConfig({ AUTO_CREATE_THINGS: 'false' }).AUTO_CREATE_THINGS).toBe(false);
    expect(loadConfig({}).AUTO_CREATE_THINGS).toBe(true);
    expect(() => loadConfig({ AUTO_CREATE_THINGS: 'maybe' })).toThrow(/AUTO_CREATE_THINGS:/);
  });

  it('has the documented ingest defaults and rejects a bad MQTT_URL', () => {
    const c = loadConfig({});
    expect([c.MQTT_URL, c.MQTT_PORT, c.INGEST_MAX_PAYLOAD_BYTES]).toEqual([undefined, 1883, 65536]);
    expect(() => loadConfig({ MQTT_URL: 'http://x' })).toThrow(/MQTT_URL:/);
  });
});
