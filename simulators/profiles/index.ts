import type { ProfileName } from '../contract.js';
import { climateProfile } from './climate.js';
import { energyProfile } from './energy.js';
import { machineProfile } from './machine.js';
import type { Profile } from './model.js';

export type { Profile, SignalModel } from './model.js';

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  energy: energyProfile,
  climate: climateProfile,
  machine: machineProfile,
};
