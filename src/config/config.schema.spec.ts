import { describe, expect, it } from '@jest/globals';
import { ConfigError, defaultSharedBuffersMb, loadConfig, usableMemory } from './config.schema.js';

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

describe("the embedded PostgreSQL's cache (EMBEDDED_PG_SHARED_BUFFERS_MB)", () => {
  const GiB = 2 ** 30;

  it('defaults to a quarter of the memory, no less than 128 MB and no more than 4 GB', () => {
    expect(defaultSharedBuffersMb(8 * GiB)).toBe(2048);
    expect(defaultSharedBuffersMb(24 * GiB)).toBe(4096);
    expect(defaultSharedBuffersMb(GiB / 4)).toBe(128);
    expect(loadConfig({}).EMBEDDED_PG_SHARED_BUFFERS_MB).toBe(defaultSharedBuffersMb());
  });

  it("counts a container's memory limit, not the host's memory", () => {
    expect(usableMemory(64 * GiB, 2 * GiB)).toBe(2 * GiB);
    expect(defaultSharedBuffersMb(usableMemory(64 * GiB, 2 * GiB))).toBe(512);
    // No limit, as the Node versions say it.
    expect(usableMemory(16 * GiB, 0)).toBe(16 * GiB);
    expect(usableMemory(16 * GiB, undefined)).toBe(16 * GiB);
    expect(usableMemory(16 * GiB, 2 ** 64)).toBe(16 * GiB);
  });

  it.each(['8', 'lots', '1.5'])('refuses %s naming the variable', (value) => {
    expect(() => loadConfig({ EMBEDDED_PG_SHARED_BUFFERS_MB: value })).toThrow(
      /EMBEDDED_PG_SHARED_BUFFERS_MB:/,
    );
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

describe('loadConfig errors never show a secret', () => {
  it.each([
    [{ DATABASE_URL: 'mysql://admin:PgS3cretPW@x' }, 'PgS3cretPW', /DATABASE_URL:/],
    [{ MQTT_URL: 'http://dev:PgS3cretPW@broker' }, 'PgS3cretPW', /MQTT_URL:/],
    [{ DITTO_URL: 'ftp://u:PgS3cretPW@ditto' }, 'PgS3cretPW', /DITTO_URL:/],
    [
      { DITTO_TOKEN: 'eyJSECRETTOKEN', DITTO_USERNAME: 'u', DITTO_PASSWORD: 'pw' },
      'eyJSECRETTOKEN',
      /DITTO_TOKEN:/,
    ],
    [{ DITTO_PASSWORD: 'PgS3cretPW' }, 'PgS3cretPW', /DITTO_USERNAME:/],
    [{ AUTH_FAILURE_LIMIT: '0' }, 'never', /AUTH_FAILURE_LIMIT:/],
  ])('%j', (env, secret, names) => {
    let message = '';
    try {
      loadConfig(env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(names);
    expect(message).not.toContain(secret);
  });

  it('still shows the value of a plain setting', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/got "eighty"/);
  });

  it('has the documented authentication defaults', () => {
    const c = loadConfig({});
    expect([
      c.AUTH_USERS,
      c.AUTH_USERS_FILE,
      c.AUTH_OIDC_ISSUERS,
      c.AUTH_PRE_AUTHENTICATED,
      c.AUTH_ANONYMOUS,
    ]).toEqual([undefined, undefined, undefined, false, false]);
    expect([c.AUTH_FAILURE_LIMIT, c.AUTH_OIDC_TIMEOUT_MS, c.CORS_ORIGINS]).toEqual([20, 5000, '']);
  });
});

describe('loadConfig for forecasting', () => {
  it('reads FORECAST_RETRAIN_EVERY as a duration with a unit or in ISO 8601', () => {
    expect(loadConfig({}).FORECAST_RETRAIN_EVERY).toBe(86_400_000);
    expect(loadConfig({ FORECAST_RETRAIN_EVERY: '30m' }).FORECAST_RETRAIN_EVERY).toBe(1_800_000);
    expect(loadConfig({ FORECAST_RETRAIN_EVERY: 'PT1H30M' }).FORECAST_RETRAIN_EVERY).toBe(5_400_000);
    expect(loadConfig({ FORECAST_RETRAIN_EVERY: 'P7D' }).FORECAST_RETRAIN_EVERY).toBe(7 * 86_400_000);
    for (const bad of ['24', 'PT', 'P1M', '0s', 'daily'])
      expect(() => loadConfig({ FORECAST_RETRAIN_EVERY: bad })).toThrow(/FORECAST_RETRAIN_EVERY:/);
    expect(loadConfig({}).FORECAST_ENABLED).toBe(true);
  });

  it("bounds the forecast workers' queue and lets the inference timeout be 0 (always fall back)", () => {
    expect(loadConfig({}).FORECAST_QUEUE_MAX).toBe(100);
    expect(loadConfig({ FORECAST_QUEUE_MAX: '5' }).FORECAST_QUEUE_MAX).toBe(5);
    for (const bad of ['0', '-1', '1.5', '100001'])
      expect(() => loadConfig({ FORECAST_QUEUE_MAX: bad })).toThrow(/FORECAST_QUEUE_MAX/);
    expect(loadConfig({ FORECAST_INFERENCE_TIMEOUT_MS: '0' }).FORECAST_INFERENCE_TIMEOUT_MS).toBe(0);
  });
});
