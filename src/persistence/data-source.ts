import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source.options.js';

/** For the TypeORM CLI (`migration:generate`); it needs DATABASE_URL. */
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must be set for the TypeORM CLI');
export default new DataSource(dataSourceOptions(url));
